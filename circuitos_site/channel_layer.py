"""The embedded (no Redis) channel layer, safe across threads and event loops.

Channels' InMemoryChannelLayer keeps an asyncio.Queue per channel and assumes every sender
runs in the receiver's event loop. In Circuit OS the engine publishes from worker threads
(their own loop), so a plain `put_nowait` from there would not wake the consumer's loop.
This layer remembers the loop that receives on each channel and hands messages to it with
`call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from copy import deepcopy

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class LoopSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        if queue.full():
            raise ChannelFull(channel)
        item = (time.time() + self.expiry, deepcopy(message))
        owner = self._loops.get(channel)
        if owner is not None and owner is not asyncio.get_running_loop() and not owner.is_closed():
            owner.call_soon_threadsafe(self._put, queue, channel, item)
        else:
            queue.put_nowait(item)

    def _put(self, queue: asyncio.Queue, channel: str, item) -> None:
        # Like ChannelFull for a local sender: a consumer that stopped reading misses it.
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(item)

    async def receive(self, channel):
        # Unlike the base class, the queue is kept while the consumer lives: dropping an empty
        # queue would lose a message another thread is putting into it at that moment.
        self.require_valid_channel_name(channel)
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        self._loops[channel] = asyncio.get_running_loop()
        _expires, message = await queue.get()
        if queue.empty() and not any(channel in members for members in self.groups.values()):
            # A one-off channel (no group sends to it, e.g. the health check's): nothing to keep.
            self.channels.pop(channel, None)
            self._loops.pop(channel, None)
        return message

    async def group_discard(self, group, channel):
        await super().group_discard(group, channel)
        if not any(channel in members for members in self.groups.values()) and self.channels.get(channel, asyncio.Queue()).empty():
            # The consumer left every group (it disconnected): forget its queue.
            self.channels.pop(channel, None)
            self._loops.pop(channel, None)

    async def flush(self):
        await super().flush()
        self._loops = {}

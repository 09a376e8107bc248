// Upload with progress: send the form with XMLHttpRequest so its upload events can drive the <progress> bar.
(() => {
  const form = document.getElementById("upload-form");
  const bar = document.getElementById("upload-progress");
  if (!form || !bar) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", () => {
      // The server answers with the page itself (a redirect to the list, or the form with its errors).
      document.open();
      document.write(request.responseText);
      document.close();
      if (request.responseURL) window.history.replaceState(null, "", request.responseURL);
    });
    bar.hidden = false;
    bar.value = 0;
    request.send(new FormData(form));
  });
})();

/* Small progressive enhancements for the settings and records forms. Everything works
 * without JavaScript too: the server ignores the secret boxes of other credential kinds,
 * the type form always offers empty rows, and delete buttons post normally.
 */
(function () {
  "use strict";

  // Credentials: show only the secret fields of the chosen kind (hidden ones are disabled,
  // so they are neither submitted nor reachable with the keyboard).
  var kindSelect = document.querySelector("[data-kind-select]");
  function showKind() {
    document.querySelectorAll(".secret-fields[data-kind]").forEach(function (fieldset) {
      var active = fieldset.dataset.kind === kindSelect.value;
      fieldset.hidden = !active;
      fieldset.disabled = !active;
    });
  }
  if (kindSelect) {
    kindSelect.addEventListener("change", showKind);
    showKind();
  }

  // Object type form: one more empty field row, numbered after the last one.
  var addRow = document.querySelector("[data-add-field-row]");
  if (addRow) {
    addRow.addEventListener("click", function () {
      var body = document.getElementById("field-rows");
      var last = body.querySelector("tr:last-child");
      if (!last) return;
      var index = body.querySelectorAll("tr").length;
      var row = last.cloneNode(true);
      row.querySelectorAll("input, select").forEach(function (input) {
        input.name = input.name.replace(/^fields-\d+-/, "fields-" + index + "-");
        var label = input.getAttribute("aria-label");
        if (label) input.setAttribute("aria-label", label.replace(/^Field \d+/, "Field " + (index + 1)));
        if (input.type === "checkbox") input.checked = false;
        else if (input.tagName === "SELECT") input.selectedIndex = 0;
        else input.value = "";
      });
      body.appendChild(row);
      row.querySelector("input").focus();
    });
  }

  // Copy the new API key.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.querySelector(button.dataset.copy);
      if (!input) return;
      input.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done, function () {});
      else if (document.execCommand && document.execCommand("copy")) done();
    });
  });

  // Destructive forms ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();

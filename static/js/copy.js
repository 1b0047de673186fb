// Copy buttons: every element marked data-copy="what it is" gets a "Copy" button after it that puts
// the element's text on the clipboard (no inline handlers: see the CSP). Works for content htmx swaps in.
(function () {
  function enhance(root) {
    root.querySelectorAll("[data-copy]:not([data-copy-ready])").forEach(function (source) {
      source.setAttribute("data-copy-ready", "");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy secondary outline small";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy " + source.getAttribute("data-copy"));
      button.addEventListener("click", function () {
        var text = source.innerText.trim();
        var done = function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { button.textContent = "Select and copy"; });
        } else {  // plain http on a LAN address: select the text so Ctrl-C copies it
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          button.textContent = "Selected: press Ctrl-C";
        }
      });
      source.insertAdjacentElement("afterend", button);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) { enhance(event.target); });
})();

// A link to a section of a page (#diagnostics, #profile, #audit) opens the collapsed <details> it is in
// and scrolls to it, on load and when the hash changes (no inline handlers: see the CSP).
(function () {
  function reveal() {
    var id;
    try { id = decodeURIComponent(location.hash.slice(1)); } catch (error) { return; }  // "#%" is no section
    var target = id && document.getElementById(id);
    if (!target) return;
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") node.open = true;
    }
    target.scrollIntoView({block: "start"});
  }
  document.addEventListener("DOMContentLoaded", reveal);
  window.addEventListener("hashchange", reveal);
})();

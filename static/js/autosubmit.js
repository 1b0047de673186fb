// Selects marked data-autosubmit submit their form on change (no inline handlers: see the CSP).
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]") && event.target.form) event.target.form.submit();
});

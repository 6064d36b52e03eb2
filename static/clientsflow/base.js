/* Behaviour shared by every page. The Content-Security-Policy allows no inline script or
 * onclick= attribute, so small behaviours are bound here from data- attributes. */
(function () {
  "use strict";

  // <button data-print>: open the browser's print dialog (the proposal and its signed copy).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-print]");
    if (!button) return;
    event.preventDefault();
    window.print();
  });
})();

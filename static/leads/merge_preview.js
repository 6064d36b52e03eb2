/* The merge preview in the admin: picking another survivor reloads the plan for it (and drops
 * any earlier confirmation, which was for the other survivor). */
(function () {
  "use strict";

  document.addEventListener("change", (event) => {
    const radio = event.target.closest("input[data-replan]");
    if (!radio) return;
    const confirm = radio.form.querySelector("[name=confirm]");
    if (confirm) confirm.value = "";
    radio.form.submit();
  });
})();

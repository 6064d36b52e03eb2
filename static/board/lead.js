/* The lead page's inline edits: Escape cancels an open edit (Enter already submits the form),
 * and focus goes back to the field's "Edit" button once a save or cancel has swapped it in.
 * Without this script "Edit" opens a small page with the same form. */
(function () {
  "use strict";

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const form = event.target.closest && event.target.closest("form.inline-edit");
    if (!form) return;
    const cancel = form.querySelector(".cancel");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (!target || !target.classList) return;
    const field = document.getElementById(target.id);
    if (field && field.classList.contains("inline-field") && !field.classList.contains("inline-edit")) {
      const edit = field.querySelector(".edit-link");
      if (edit) edit.focus();
    }
  });
})();

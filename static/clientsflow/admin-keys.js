// Keyboard shortcuts on the review screens (no inline scripts: the CSP forbids them).
// A button or link marked data-shortcut="a" is pressed by that key, unless the person is typing.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  const control = document.querySelector(`[data-shortcut="${CSS.escape(event.key)}"]`);
  if (!control) return;
  event.preventDefault();
  control.click();
});

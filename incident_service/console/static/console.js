// The console's few behaviours beyond htmx. The pages work without this file.

// "a" acknowledges the incident on its page (as the button's aria-keyshortcuts says),
// unless the person is typing in a field.
document.addEventListener("keydown", (event) => {
  if (event.key !== "a" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
  const button = document.getElementById("acknowledge");
  if (button) {
    event.preventDefault();
    button.click();
  }
});

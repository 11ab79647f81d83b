// Applies the saved theme before the first paint (a classic script in <head>, so no flash of the
// other theme). The toggle lives in app.js. The choice is a display preference, not a secret, so
// it is the one thing this page keeps in localStorage.
(function () {
  try {
    var theme = localStorage.getItem("modal-secrets.theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (_) {
    // storage disabled: follow the system
  }
})();

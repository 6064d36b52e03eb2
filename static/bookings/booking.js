// Booking page: put the visitor's own time zone in the URL (?tz=) the first time, and apply a
// new zone as soon as it is picked. Without JavaScript the page works the same with the form.
(function () {
  var url = new URL(window.location.href);
  if (!url.searchParams.get("tz")) {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    if (zone) {
      url.searchParams.set("tz", zone);
      window.location.replace(url.toString());
      return;
    }
  }
  var select = document.getElementById("tz");
  if (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }
})();

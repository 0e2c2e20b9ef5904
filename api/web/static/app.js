// Progressive enhancement only: every page works without this file.
// 1. Facet checkboxes apply at once (the "Apply filters" button stays for keyboard and no-JS users).
// 2. The partner "add a source" form previews live when the address changes, without a reload.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function (event) {
        if (event.target && event.target.type === "checkbox") form.submit();
      });
    });

    var form = document.getElementById("source-form");
    var target = document.getElementById("preview");
    if (!form || !target || !window.fetch) return;
    var url = form.querySelector("[data-live-preview]");
    var last = "";
    function preview() {
      var data = new URLSearchParams(new FormData(form));
      var key = data.toString();
      if (!url.value || key === last) return;
      last = key;
      target.setAttribute("aria-busy", "true");
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" }
      }).then(function (response) {
        if (response.status === 401) { window.location.href = "/partners/sign-in"; return ""; }
        return response.text();
      }).then(function (html) {
        if (html === undefined) return;
        // Server-rendered, autoescaped fragment of our own origin (CSP: script-src 'self').
        var doc = new DOMParser().parseFromString(html, "text/html");
        target.replaceChildren.apply(target, Array.prototype.slice.call(doc.body.childNodes));
      }).catch(function () { /* the Preview button still works without script */ })
        .finally(function () { target.removeAttribute("aria-busy"); });
    }
    url.addEventListener("change", preview);
    form.querySelectorAll("select, textarea").forEach(function (el) { el.addEventListener("change", preview); });
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.value === "preview") {
        event.preventDefault();
        last = "";
        preview();
      }
    });
  });
})();

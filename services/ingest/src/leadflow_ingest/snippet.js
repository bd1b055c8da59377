/* Leadflow website snippet. Nothing happens before consent: no cookie, no request.
 *
 *   <script src="https://ingest.example.com/v1/snippet.js" data-source="website" defer></script>
 *   ... when the visitor agrees (e.g. from your consent banner):  leadflow.consent(true)
 *   ... when the visitor withdraws:                                 leadflow.consent(false)
 *
 * Options (attributes of the script tag):
 *   data-source          the html-form source id (required)
 *   data-consent-cookie  "name" or "name=value": a cookie your consent tool sets; present = consent
 *   data-cookie-days     lifetime of the anonymous-id cookie (default 365)
 *
 * After consent it keeps a random anonymous id in the first-party cookie `lf_aid`, records the
 * page view (and `email_clicked` when the URL has utm_medium=email) and adds the id as the hidden
 * field `_anonymous_id` (and the page URL as `_page_url`) to forms that post to this ingest (or carry
 * `data-leadflow`), so a form
 * submission is linked to the visits before it. Calls made before the snippet loaded are queued:
 *   window.leadflow = window.leadflow || {q: []}; leadflow.q.push(["consent", true]);
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = script.src.replace(/\/v1\/snippet\.js(\?.*)?$/, "");
  var source = script.getAttribute("data-source");
  var consentCookie = script.getAttribute("data-consent-cookie");
  var days = parseInt(script.getAttribute("data-cookie-days") || "365", 10);
  var COOKIE = "lf_aid";
  var FIELD = "_anonymous_id";
  var granted = false;
  var viewed = false;

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  function writeCookie(value, maxAge) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = COOKIE + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge + "; Path=/; SameSite=Lax" + secure;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function anonymousId() {
    var id = readCookie(COOKIE);
    if (!id || !/^[A-Za-z0-9_-]{8,128}$/.test(id)) {
      id = newId();
    }
    writeCookie(id, days * 86400); // (re)set: the lifetime counts from the last visit
    return id;
  }

  function consentFromCookie() {
    if (!consentCookie) return false;
    var name = consentCookie.split("=")[0];
    var want = consentCookie.indexOf("=") >= 0 ? consentCookie.slice(name.length + 1) : null;
    var have = readCookie(name);
    return have !== null && (want === null || have === want);
  }

  function send(type) {
    var params = new URLSearchParams(location.search);
    var utm = {};
    params.forEach(function (value, key) { if (key.indexOf("utm_") === 0 && key.length <= 32) utm[key] = value.slice(0, 256); });
    var body = JSON.stringify({
      type: type, anonymous_id: anonymousId(), page_url: location.href.slice(0, 2048),
      referrer: document.referrer ? document.referrer.slice(0, 2048) : null, title: document.title.slice(0, 256), utm: utm
    });
    var url = base + "/v1/sources/" + encodeURIComponent(source) + "/events";
    // text/plain keeps it a "simple" cross-origin request: no preflight per page view
    var blob = new Blob([body], { type: "text/plain;charset=UTF-8" });
    if (!(navigator.sendBeacon && navigator.sendBeacon(url, blob))) {
      fetch(url, { method: "POST", body: body, keepalive: true, mode: "cors", headers: { "Content-Type": "text/plain;charset=UTF-8" } })
        .catch(function () {});
    }
  }

  function ours(form) {
    var action = form.getAttribute("action") || "";
    return form.hasAttribute("data-leadflow") || action.indexOf(base + "/v1/sources/") === 0;
  }

  function hidden(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (value === null) { if (input) input.parentNode.removeChild(input); return; }
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  function decorate(form) {
    if (!ours(form)) return;
    // browsers send only the origin as Referer to another site: the page URL travels in the form
    hidden(form, FIELD, granted ? anonymousId() : null);
    hidden(form, "_page_url", granted ? location.href.slice(0, 2048) : null);
  }

  function decorateAll() {
    var forms = document.getElementsByTagName("form");
    for (var i = 0; i < forms.length; i++) decorate(forms[i]);
  }

  function start() {
    if (!granted) return;
    decorateAll();
    if (!viewed && source) {
      viewed = true;
      send("page_viewed");
      if (new URLSearchParams(location.search).get("utm_medium") === "email") send("email_clicked");
    }
  }

  function consent(yes) {
    granted = !!yes;
    if (granted) {
      start();
    } else {
      writeCookie("", 0);
      decorateAll();
    }
  }

  // forms added later, or filled in before consent: the id goes in at the moment of submission
  document.addEventListener("submit", function (event) { if (event.target && event.target.tagName === "FORM") decorate(event.target); }, true);

  var queued = window.leadflow && window.leadflow.q ? window.leadflow.q : [];
  window.leadflow = {
    consent: consent,
    anonymousId: function () { return granted ? anonymousId() : null; },
    q: { push: function (call) { if (call && call[0] === "consent") consent(call[1]); } }
  };
  // an id cookie exists only after consent was given on an earlier page; withdraw with leadflow.consent(false)
  if (readCookie(COOKIE) || consentFromCookie()) granted = true;
  for (var i = 0; i < queued.length; i++) window.leadflow.q.push(queued[i]);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

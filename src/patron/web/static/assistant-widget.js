/* Patron's chat widget: one <script> tag on a shop's page puts a help button in the corner that opens the
   shop's help centre in a frame. No framework, no cookies, nothing sent anywhere but to the frame.
   <script src="https://patron.example/static/assistant-widget.js" data-patron-help="https://patron.example/help/SHOP?embed=1" data-label="Help" async></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var src = script.getAttribute("data-patron-help");
  if (!src) { return; }
  var label = script.getAttribute("data-label") || "?";
  var lang = script.getAttribute("data-lang");
  if (lang) { src += (src.indexOf("?") < 0 ? "?" : "&") + "lang=" + encodeURIComponent(lang); }
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483646;padding:12px 18px;border:0;" +
    "border-radius:999px;background:#2f6f5e;color:#fff;font:600 16px sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.25);cursor:pointer";
  var frame = null;
  button.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = src;
      frame.title = label;
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.style.cssText = "position:fixed;right:12px;bottom:72px;z-index:2147483647;width:min(380px,calc(100vw - 24px));" +
        "height:min(600px,calc(100vh - 96px));border:1px solid #d9e1e6;border-radius:12px;background:#fff;" +
        "box-shadow:0 4px 16px rgba(0,0,0,.2)";
      document.body.appendChild(frame);
    } else {
      frame.style.display = frame.style.display === "none" ? "" : "none";
    }
    button.setAttribute("aria-expanded", frame.style.display === "none" ? "false" : "true");
  });
  document.body.appendChild(button);
}());

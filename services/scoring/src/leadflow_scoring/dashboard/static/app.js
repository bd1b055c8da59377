// The dashboard's entry point: loads the page configuration, then renders the page the URL's hash names.
import { api, errorBox, h } from "./dom.js";
import { funnelView, handoverView, leadView, leadsView } from "./views.js";

const main = document.getElementById("main");
const ROUTES = [
  [/^#\/funnel(?:\?(.*))?$/, "funnel", (m, config) => funnelView(new URLSearchParams(m[1] || ""), config)],
  [/^#\/leads\/([0-9a-fA-F-]{36})$/, "leads", (m, config) => leadView(m[1], config)],
  [/^#\/leads(?:\?(.*))?$/, "leads", (m, config) => leadsView(new URLSearchParams(m[1] || ""), config)],
  [/^#\/handover(?:\?(.*))?$/, "handover", (m, config) => handoverView(new URLSearchParams(m[1] || ""), config)],
];

let config = null;
let rendering = 0;

async function render() {
  const hash = window.location.hash || "#/funnel";
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!route) {
    window.location.hash = "#/funnel";
    return;
  }
  const [pattern, nav, view] = route;
  for (const link of document.querySelectorAll("[data-nav]")) link.classList.toggle("active", link.dataset.nav === nav);
  const token = ++rendering;
  main.removeAttribute("data-ready");
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    config = config || (await api("/dashboard/config"));
    const node = await view(hash.match(pattern), config);
    if (token !== rendering) return;
    main.replaceChildren(node);
  } catch (error) {
    if (token !== rendering) return;
    main.replaceChildren(errorBox(error));
  }
  main.dataset.ready = hash; // tests wait for this
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", render);
render();

// An enlarged view of one photo of a grid (iconic filtering, verification): the whole
// photo letterboxed on the drawing surface, so it can be zoomed and panned too. Opened by
// hovering a cell for a moment or by a key; closed by Escape, the close button or leaving.
import { createSurface } from "./surface.js";

const HOVER_MS = 500;

export function createPreview(host) {
  const panel = document.createElement("div");
  panel.className = "preview";
  panel.dataset.testid = "preview";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "enlarged photo");
  const bar = document.createElement("div");
  bar.className = "preview-bar";
  const caption = document.createElement("span");
  const close = document.createElement("button");
  close.type = "button";
  close.className = "secondary";
  close.textContent = "Close (Esc)";
  close.dataset.testid = "preview-close";
  bar.append(caption, close);
  const stage = document.createElement("div");
  stage.className = "preview-stage";
  panel.append(bar, stage);
  host.append(panel);

  let surface = null;
  let shown = null; // the url on show
  let timer = null;
  let byHover = false;

  function open(url, alt, { hover = false } = {}) {
    clearTimeout(timer);
    byHover = hover;
    if (shown === url && !panel.hidden) return;
    shown = url;
    caption.textContent = alt;
    panel.hidden = false;
    const probe = new Image();
    probe.onload = () => {
      if (shown !== url) return;
      if (surface) surface.destroy();
      surface = createSurface(stage, { width: probe.naturalWidth, height: probe.naturalHeight, imageUrl: url, alt });
      surface.container.tabIndex = -1;
    };
    probe.src = url;
  }

  function hide() {
    clearTimeout(timer);
    panel.hidden = true;
    shown = null;
  }

  close.addEventListener("click", hide);

  return {
    open,
    hide,
    isOpen: () => !panel.hidden,
    toggle(url, alt) {
      if (!panel.hidden && shown === url) hide();
      else open(url, alt);
    },
    // Enlarge a cell after the pointer rests on it; leaving it closes a hover preview.
    hoverable(element, url, alt) {
      element.addEventListener("pointerenter", (event) => {
        if (event.pointerType === "touch") return;
        clearTimeout(timer);
        timer = setTimeout(() => open(url, alt, { hover: true }), HOVER_MS);
      });
      element.addEventListener("pointerleave", () => {
        clearTimeout(timer);
        if (byHover) hide();
      });
    },
  };
}

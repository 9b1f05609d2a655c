// The drawing surface: one <svg> with a world group (zoomed and panned by the viewport)
// holding ordered layers: photo, other masks, reference feedback, the spot, the editor.

const SVG = "http://www.w3.org/2000/svg";

export function svgElement(name, attributes = {}) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

export function createSurface(container) {
  const svg = svgElement("svg", { class: "seg-svg", "data-testid": "surface" });
  const world = svgElement("g", { "data-testid": "world" });
  const layers = {};
  for (const name of ["photo", "masks", "feedback", "spot", "editor"]) {
    layers[name] = svgElement("g", { class: `layer-${name}`, "data-layer": name });
    world.appendChild(layers[name]);
  }
  svg.appendChild(world);
  container.replaceChildren(svg);
  return { svg, world, layers };
}

// Outlines of other instances (or feedback), drawn once per change; strokes keep their
// screen width whatever the zoom (non-scaling-stroke), so zooming never redraws them.
export function drawOutlines(layer, outlines, className) {
  const fragment = document.createDocumentFragment();
  for (const outline of outlines) {
    const group = svgElement("g", { class: className, "data-category": outline.category || "" });
    for (const flat of outline.polygons) {
      const points = [];
      for (let i = 0; i + 1 < flat.length; i += 2) points.push(`${flat[i]},${flat[i + 1]}`);
      group.appendChild(svgElement("polygon", { points: points.join(" "), "vector-effect": "non-scaling-stroke" }));
    }
    fragment.appendChild(group);
  }
  layer.replaceChildren(fragment);
}

// The viewport: zoom and pan of the image inside the SVG drawing surface.
// World coordinates are image pixels; screen = world * scale + (tx, ty), in SVG user units,
// which equal CSS pixels of the <svg> element.

const MIN_SCALE_FACTOR = 0.5; // relative to "fit"
const MAX_SCALE = 32;

export class Viewport {
  constructor(svg, group, onChange) {
    this.svg = svg;
    this.group = group;
    this.onChange = onChange || (() => {});
    this.scale = 1;
    this.fitScale = 1;
    this.tx = 0;
    this.ty = 0;
  }

  // Whole image visible, centred.
  fit(imageWidth, imageHeight) {
    const { width, height } = this.svg.getBoundingClientRect();
    this.fitScale = Math.min(width / imageWidth, height / imageHeight);
    this.scale = this.fitScale;
    this.tx = (width - imageWidth * this.scale) / 2;
    this.ty = (height - imageHeight * this.scale) / 2;
    this.apply();
  }

  apply() {
    this.group.setAttribute("transform", `translate(${this.tx} ${this.ty}) scale(${this.scale})`);
    this.onChange(this);
  }

  // Client (mouse event) coordinates -> image pixels.
  toImage(clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    return {
      x: (clientX - rect.left - this.tx) / this.scale,
      y: (clientY - rect.top - this.ty) / this.scale,
    };
  }

  // Zoom by a factor keeping the point under (clientX, clientY) fixed.
  zoomAt(factor, clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    const sx = clientX === undefined ? rect.width / 2 : clientX - rect.left;
    const sy = clientY === undefined ? rect.height / 2 : clientY - rect.top;
    const next = Math.min(MAX_SCALE, Math.max(this.fitScale * MIN_SCALE_FACTOR, this.scale * factor));
    const real = next / this.scale;
    this.tx = sx - (sx - this.tx) * real;
    this.ty = sy - (sy - this.ty) * real;
    this.scale = next;
    this.apply();
  }

  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.apply();
  }

  // Zoom relative to "whole photo" (1 = fit).
  get zoom() {
    return this.scale / this.fitScale;
  }
}

// A small live chart of CPU and memory, drawn as SVG: two lines over the last samples.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 160;
const KEEP = 60;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

export function statsChart(title) {
  const node = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart",
    role: "img",
    "aria-label": title,
  });
  const label = svg("title");
  label.textContent = title;
  node.append(label);
  for (const percent of [0, 50, 100]) {
    const y = HEIGHT - 10 - (percent / 100) * (HEIGHT - 20);
    node.append(svg("line", { x1: 30, x2: WIDTH, y1: y, y2: y, class: "axis", "stroke-width": 0.5 }));
    const text = svg("text", { x: 2, y: y + 3 });
    text.textContent = `${percent}%`;
    node.append(text);
  }
  const cpu = svg("polyline", { class: "cpu", fill: "none", "stroke-width": 2, points: "" });
  const mem = svg("polyline", { class: "mem", fill: "none", "stroke-width": 2, points: "" });
  node.append(cpu, mem);
  const samples = [];

  function points(key, top) {
    const step = (WIDTH - 30) / (KEEP - 1);
    return samples
      .map((sample, i) => {
        const value = Math.max(0, Math.min(sample[key] || 0, top));
        const y = HEIGHT - 10 - (value / top) * (HEIGHT - 20);
        return `${(30 + i * step).toFixed(1)},${y.toFixed(1)}`;
      })
      .join(" ");
  }

  return {
    node,
    get count() {
      return samples.length;
    },
    add(sample) {
      samples.push(sample);
      if (samples.length > KEEP) samples.shift();
      // CPU may pass 100% on several cores: the scale grows with it
      const top = Math.max(100, ...samples.map((s) => s.cpu_percent || 0));
      cpu.setAttribute("points", points("cpu_percent", top));
      mem.setAttribute("points", points("memory_percent", 100));
      node.dataset.samples = String(samples.length);
    },
  };
}

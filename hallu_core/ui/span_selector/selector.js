// Two-way span selector: shows the output (segments built in Python, set with
// textContent only) and reports the mouse selection as exact code-point offsets.
const CLASS = "hallu-spansel";

function codePoints(text, u16) {
  // JS offsets are UTF-16 code units; Python's are code points.
  return Array.from(text.slice(0, u16)).length;
}

function isHigh(c) { return c >= 0xd800 && c <= 0xdbff; }

function u16Offset(root, node, offset) {
  // Characters of the text before (node, offset); clamped when the point lies outside root.
  if (!root.contains(node)) {
    const pos = root.compareDocumentPosition(node);
    return pos & Node.DOCUMENT_POSITION_PRECEDING ? 0 : root.textContent.length;
  }
  const r = document.createRange();
  r.setStart(root, 0);
  r.setEnd(node, offset);
  return r.toString().length;
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  let root = parentElement.querySelector("." + CLASS);
  if (!root) {
    root = document.createElement("div");
    root.className = CLASS;
    parentElement.appendChild(root);
  }
  const segments = (data && data.segments) || [];
  root.replaceChildren();
  root.setAttribute("data-testid", "hallu-span-selector");
  for (const seg of segments) {
    const el = document.createElement(seg.type ? "mark" : "span");
    el.textContent = seg.text;  // never innerHTML: the output is untrusted
    if (seg.type) {
      el.className = CLASS + "-mark " + CLASS + "-" + String(seg.type).replace(/[^a-z_]/g, "");
      el.title = seg.title || "";
    }
    root.appendChild(el);
  }
  if (!segments.length) {
    const el = document.createElement("span");
    el.className = CLASS + "-empty";
    el.textContent = (data && data.empty) || "(empty output)";
    root.appendChild(el);
  }
  const text = root.textContent;

  function report() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed || !segments.length) return;
    const range = sel.getRangeAt(0);
    if (!range.intersectsNode(root)) return;
    let a = u16Offset(root, range.startContainer, range.startOffset);
    let b = u16Offset(root, range.endContainer, range.endOffset);
    if (a > b) [a, b] = [b, a];
    if (a > 0 && isHigh(text.charCodeAt(a - 1))) a -= 1;  // never split a surrogate pair
    if (b > 0 && b < text.length && isHigh(text.charCodeAt(b - 1))) b += 1;
    if (a === b) return;
    const start = codePoints(text, a), end = codePoints(text, b);
    setStateValue("selection", { start, end, text: text.slice(a, b), nonce: Date.now() + Math.random() });
  }
  const onUp = () => setTimeout(report, 0);
  const onKey = (e) => { if (e.shiftKey) setTimeout(report, 0); };
  document.addEventListener("mouseup", onUp);
  root.addEventListener("keyup", onKey);
  return () => {
    document.removeEventListener("mouseup", onUp);
    root.removeEventListener("keyup", onKey);
  };
}

// A tiny element builder.  The booth never uses innerHTML: every text node is
// created as text, so manifest labels and server messages cannot inject
// markup, and nothing needs an inline style or script (the page's CSP allows
// neither).

/**
 * h('button', {class: 'primary', onclick: fn, 'aria-describedby': 'x'}, 'text', child)
 * Attributes: `class`, `text`, `on<event>` handlers, booleans (true sets the
 * attribute, false/null/undefined omit it), anything else via setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'text') {
      el.textContent = value;
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let counter = 0;
/** A fresh element id (for label/aria-describedby pairs). */
export const uid = (prefix) => `${prefix}-${++counter}`;

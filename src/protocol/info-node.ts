import { xml, type Element } from '@xmpp/xml';
import { decodeAttributeValue, encodeAttributeValue } from './base64-attribute';
import { ProtocolError } from './protocol-error';

/**
 * An <info> (or <job>) element with its attribute values already base64-decoded. Children keep
 * their element names so that a redirect's nested <info> and runJob's <job> stay distinct.
 */
export interface InfoNode {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly InfoNode[];
}

/** Deepest nesting accepted: redirect wraps a secure envelope wraps a command wraps <job>. */
const MAX_DEPTH = 6;

export function infoNodeFromElement(element: Element, depth = 0): InfoNode {
  if (depth > MAX_DEPTH) {
    throw new ProtocolError('invalid-attribute', `<info> nested deeper than ${MAX_DEPTH} levels`);
  }
  const attributes: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, raw] of Object.entries(element.attrs)) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    attributes[name] = decodeAttributeValue(name, String(raw));
  }
  const children: InfoNode[] = [];
  for (const child of element.children) {
    if (typeof child !== 'string') children.push(infoNodeFromElement(child, depth + 1));
  }
  return { name: element.name, attributes, children };
}

export function infoNodeToElement(node: InfoNode): Element {
  const attrs: Record<string, string> = {};
  for (const [name, value] of Object.entries(node.attributes)) {
    attrs[name] = encodeAttributeValue(value);
  }
  return xml(node.name, attrs, ...node.children.map(infoNodeToElement));
}

export function childNamed(node: InfoNode, name: string): InfoNode | undefined {
  return node.children.find((child) => child.name === name);
}

/**
 * The XML side of the AWS Query protocol, as the SDK's `AwsQueryProtocol` reads it: a `<ActionResponse>`
 * root whose `<ActionResult>` child holds the output members, lists as `<member>` elements, and errors as
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 */

/** Markup that is already escaped; text only becomes markup through `xmlElement`, so nothing is escaped twice. */
export interface XmlFragment {
  readonly markup: string;
}

export type XmlContent = string | number | boolean | readonly XmlFragment[];

/** One element; text content is escaped, undefined content gives no element at all (an absent member). */
export function xmlElement(name: string, content: XmlContent | undefined): XmlFragment[] {
  if (content === undefined) return [];
  const inner =
    typeof content === 'object' ? content.map((fragment) => fragment.markup).join('') : escapeXml(content);
  return [{ markup: `<${name}>${inner}</${name}>` }];
}

/** A list member in the Query protocol's default (non-flattened) shape: `<name><member>…</member>…</name>`. */
export function xmlList<T>(
  name: string,
  items: readonly T[],
  member: (item: T) => XmlFragment[],
): XmlFragment[] {
  return xmlElement(
    name,
    items.flatMap((item) => xmlElement('member', member(item))),
  );
}

export function xmlSuccessResponse(
  action: string,
  xmlNamespace: string,
  result: readonly XmlFragment[],
  requestId: string,
): string {
  const body = [
    ...xmlElement(`${action}Result`, result),
    ...xmlElement('ResponseMetadata', xmlElement('RequestId', requestId)),
  ];
  return `<${action}Response xmlns="${escapeXml(xmlNamespace)}">${join(body)}</${action}Response>`;
}

export function xmlErrorResponse(
  xmlNamespace: string,
  error: { readonly type: 'Sender' | 'Receiver'; readonly code: string; readonly message: string },
  requestId: string,
): string {
  const body = [
    ...xmlElement('Error', [
      ...xmlElement('Type', error.type),
      ...xmlElement('Code', error.code),
      ...xmlElement('Message', error.message),
    ]),
    ...xmlElement('RequestId', requestId),
  ];
  return `<ErrorResponse xmlns="${escapeXml(xmlNamespace)}">${join(body)}</ErrorResponse>`;
}

/** EC2's success envelope: the output members right under `<ActionResponse>`, then `<requestId>`. */
export function ec2SuccessResponse(
  action: string,
  xmlNamespace: string,
  result: readonly XmlFragment[],
  requestId: string,
): string {
  const body = [...xmlElement('requestId', requestId), ...result];
  return `<${action}Response xmlns="${escapeXml(xmlNamespace)}">${join(body)}</${action}Response>`;
}

/** EC2's error envelope, as the SDK's EC2 protocol reads it: `<Response><Errors><Error>`, `<RequestID>`. */
export function ec2ErrorResponse(
  error: { readonly code: string; readonly message: string },
  requestId: string,
): string {
  const body = [
    ...xmlElement(
      'Errors',
      xmlElement('Error', [...xmlElement('Code', error.code), ...xmlElement('Message', error.message)]),
    ),
    ...xmlElement('RequestID', requestId),
  ];
  return `<Response>${join(body)}</Response>`;
}

function join(fragments: readonly XmlFragment[]): string {
  return fragments.map((fragment) => fragment.markup).join('');
}

/**
 * Escapes text for element content and attribute values. Characters XML 1.0 cannot carry at all (most
 * control characters) become U+FFFD, so echoing a client's bad input back in an error message can never
 * produce a document the SDK's parser rejects.
 */
export function escapeXml(text: string | number | boolean): string {
  return (
    String(text)
      // eslint-disable-next-line no-control-regex -- exactly the characters XML 1.0 forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // A literal CR would be normalised to LF by any XML parser; the character reference survives.
      .replace(/\r/g, '&#13;')
  );
}

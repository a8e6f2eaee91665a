// Reads Server-Sent Events from a fetch Response body: yields {event, data} per event (ended by a blank
// line; `data:` lines joined by newlines; comments, other fields and an unfinished last event dropped).

function splitLines(text) {
  // A trailing CR may be the first half of a CRLF split across chunks: keep it for the next chunk.
  const heldCR = text.endsWith("\r");
  const lines = (heldCR ? text.slice(0, -1) : text).split(/\r\n|\r|\n/);
  const rest = lines.pop() + (heldCR ? "\r" : "");
  return { lines, rest };
}

export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const { lines, rest } = splitLines(buffer + decoder.decode(value, { stream: true }));
    buffer = rest;
    for (const line of lines) {
      if (line === "") {
        if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
        event = "";
        data = [];
        continue;
      }
      const colon = line.indexOf(":");
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      let fieldValue = colon < 0 ? "" : line.slice(colon + 1);
      if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
      if (field === "event") event = fieldValue;
      else if (field === "data") data.push(fieldValue);
    }
  }
}

// Mermaid renders in the browser from the bundled library: no network needed.
// Larger text and tighter spacing than Mermaid's defaults, for a projector.
export default function setupMermaid() {
  return {
    theme: 'neutral',
    themeVariables: {
      fontSize: '17px',
      // A font every laptop has, so that Mermaid measures text as it draws it.
      fontFamily: 'Arial, Liberation Sans, Helvetica, sans-serif',
    },
    flowchart: { useMaxWidth: false, nodeSpacing: 22, rankSpacing: 45, padding: 10 },
    sequence: {
      useMaxWidth: false,
      mirrorActors: false,
      actorFontSize: 17,
      messageFontSize: 17,
      noteFontSize: 16,
      actorMargin: 40,
      width: 140,
      height: 44,
      boxMargin: 6,
      messageMargin: 28,
      noteMargin: 8,
    },
  }
}

// Mermaid renders in the browser from the bundled library: no network needed.
// Larger text and tighter spacing than Mermaid's defaults, for a projector.
const FONT = 'Inter'

export default async function setupMermaid() {
  // Mermaid measures its labels as it lays a diagram out: the deck's own font (bundled,
  // style.css) must be loaded first, or the boxes are sized for whatever font was there.
  await document.fonts.load(`17px ${FONT}`)
  return {
    theme: 'neutral',
    themeVariables: {
      fontSize: '17px',
      fontFamily: `${FONT}, sans-serif`,
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
      actorFontFamily: `${FONT}, sans-serif`,
      noteFontFamily: `${FONT}, sans-serif`,
      messageFontFamily: `${FONT}, sans-serif`,
    },
  }
}

// Mermaid renders in the browser from the bundled library: no network needed.
// Larger text and tighter spacing than Mermaid's defaults, for a projector.
const FONT = 'Inter'

export default async function setupMermaid() {
  // Mermaid measures its labels as it lays a diagram out: the deck's own font (bundled,
  // style.css) must be loaded first, or the boxes are sized for whatever font was there.
  await document.fonts.load(`17px ${FONT}`)
  return {
    // The deck's colours (style.css): dark text on pale blue, lines and borders in its blue.
    theme: 'base',
    themeVariables: {
      fontSize: '17px',
      fontFamily: `${FONT}, sans-serif`,
      primaryColor: '#e3f1f6',
      primaryTextColor: '#1e293b',
      primaryBorderColor: '#1f5570',
      lineColor: '#1f5570',
      secondaryColor: '#f1f5f9',
      tertiaryColor: '#ffffff',
      noteBkgColor: '#fdf6d8',
      noteTextColor: '#1e293b',
      noteBorderColor: '#a16207',
      actorBkg: '#e3f1f6',
      actorBorder: '#1f5570',
      actorTextColor: '#1e293b',
      signalColor: '#1f5570',
      signalTextColor: '#1e293b',
      edgeLabelBackground: '#ffffff',
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

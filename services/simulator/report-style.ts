/**
 * The report's stylesheet, inlined (the report is one self-contained file): the console's tier colours
 * and refusal red, wrapping instead of scrolling sideways, and a print layout.
 */
export const REPORT_CSS = `
:root{--fg:#1b1f24;--muted:#555e69;--line:#d0d7de;--bad:#8a1c1c;--badbg:#fdecea;--ok:#0b5d2a;--okbg:#e6f4ea}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);margin:0 auto;padding:1.5rem;max-width:72rem;overflow-wrap:anywhere}
h1{font-size:1.45rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin:1.8rem 0 .4rem;border-bottom:1px solid var(--line)}h3{font-size:1rem;margin:1rem 0 .3rem}
.muted{color:var(--muted)}
.verdict{padding:.6rem .9rem;border-radius:6px;font-weight:600;margin:.4rem 0}
.verdict.ok{background:var(--okbg);color:var(--ok)}.verdict.fail{background:var(--badbg);color:var(--bad)}
table{border-collapse:collapse;margin:.4rem 0;width:100%;table-layout:auto}
th,td{border:1px solid var(--line);padding:.2rem .4rem;text-align:left;vertical-align:top}
thead th{background:#f3f5f7}
.tier{display:inline-block;padding:0 .35rem;border-radius:3px;font-size:.85em;font-weight:600}
.t-public{background:#e6f4ea;color:#1e4620}.t-operational{background:#e3ecfb;color:#173a6b}.t-personal{background:#fff1d6;color:#5c3b00}.t-special{background:#f6e3f7;color:#5a1a5e}
tr.bad td{background:var(--badbg)}tr.bad .outcome,.reason{color:var(--bad)}
.withheld{color:#6b3d00}
.tier{white-space:nowrap;overflow-wrap:normal}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.matrix{width:auto}.matrix th.agency{writing-mode:vertical-rl;transform:rotate(180deg);white-space:normal;max-height:12rem;font-size:.8em;padding:.3rem .1rem;vertical-align:bottom}
.matrix td{text-align:center}.matrix td.gain{background:var(--okbg);outline:2px solid #2e7d32}.matrix td.loss{background:var(--badbg);outline:2px solid #b3261e}.matrix td.moved{outline:2px dashed #8a5a00}
.side{display:grid;grid-template-columns:1fr;gap:1rem}
.gain{color:var(--ok)}.loss{color:var(--bad)}
.step{border-left:4px solid #0a3d7a;padding-left:.5rem}
.when{white-space:nowrap;color:var(--muted)}
@media (min-width:90rem){.side{grid-template-columns:1fr 1fr}}
@media print{body{padding:0;max-width:none;font-size:11px}h2{break-after:avoid}tr,.verdict{break-inside:avoid}.side{grid-template-columns:1fr}}
`;

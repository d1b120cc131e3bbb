"""The search page: one HTML file, no external assets. Text is put in with textContent (never as HTML), and
highlights are the API's character spans wrapped in <mark>."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Search the talks</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font: 16px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
 form { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: 1rem; }
 #q { flex: 1 1 100%; font-size: 1.1rem; padding: .4rem; }
 .hit { border-top: 1px solid #ddd; padding: .6rem 0; }
 .meta { color: #555; font-size: .9rem; }
 .ctx { color: #777; font-size: .9rem; }
 mark { background: #ffe58a; }
 #error { color: #a00; }
</style></head>
<body>
<h1>Search the talks</h1>
<form id="search">
 <input id="q" name="q" type="search" placeholder="Ask a question, e.g. can spinach cause kidney stones" autofocus>
 <label>Speaker <input id="speaker" name="speaker" size="10"></label>
 <label>From <input id="since" name="since" type="date"></label>
 <label>To <input id="until" name="until" type="date"></label>
 <label>Mode <select id="mode" name="mode"><option value="">default</option><option>hybrid</option><option>vector</option><option>lexical</option></select></label>
 <button type="submit">Search</button>
</form>
<p id="error" role="alert"></p>
<div id="hits"></div>
<button id="more" hidden>More</button>
<script>
const $ = id => document.getElementById(id);
let page = 1;
function clock(s) { s = Math.floor(s); const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(s % 60).padStart(2, '0'); }
function marked(text, spans) {
  const out = document.createElement('span'); let at = 0;
  for (const [a, b] of spans) { out.append(text.slice(at, a));
    const m = document.createElement('mark'); m.textContent = text.slice(a, b); out.append(m); at = b; }
  out.append(text.slice(at)); return out; }
function line(cls, parts) { const p = document.createElement('div'); p.className = cls;
  p.textContent = parts.map(n => n.speaker + ': ' + n.text).join(' '); return p; }
function render(hit) {
  const d = document.createElement('div'); d.className = 'hit';
  const meta = document.createElement('div'); meta.className = 'meta';
  const a = document.createElement('a'); a.href = hit.url; a.textContent = (hit.title || hit.video_id) + ' @ ' + clock(hit.start_s);
  meta.append(a, ' ' + (hit.published_at || '') + ' \u00b7 ' + hit.speaker);
  if (hit.context.before.length) d.append(line('ctx', hit.context.before));
  const body = document.createElement('div'); body.className = 'text'; body.append(marked(hit.text, hit.highlights));
  d.prepend(meta); d.append(body);
  if (hit.context.after.length) d.append(line('ctx', hit.context.after));
  return d; }
async function run(next) {
  page = next ? page + 1 : 1;
  const params = new URLSearchParams({q: $('q').value, page: page});
  for (const f of ['mode', 'speaker', 'since', 'until']) if ($(f).value) params.set(f, $(f).value);
  const r = await fetch('/api/search?' + params), body = await r.json();
  if (!next) $('hits').replaceChildren();
  if (!r.ok) { $('error').textContent = body.error.field + ': ' + body.error.message; $('more').hidden = true; return; }
  $('error').textContent = body.hits.length || next ? '' : 'No segment matches.';
  for (const hit of body.hits) $('hits').append(render(hit));
  $('more').hidden = !body.more; }
$('search').addEventListener('submit', e => { e.preventDefault(); run(false); });
$('more').addEventListener('click', () => run(true));
</script>
</body></html>
"""

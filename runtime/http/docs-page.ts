/**
 * A self-contained API docs page: the OpenAPI document is fetched from /openapi.json and
 * rendered by a few lines of inline script. No CDN, no external fonts: nothing leaves the box.
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>SutazAI API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2230;background:#fafbfc}
header{padding:16px 24px;background:#1d2230;color:#fff}header h1{margin:0;font-size:20px}
main{max-width:960px;margin:0 auto;padding:16px 24px}
details{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:8px 0}
summary{cursor:pointer;padding:10px 12px;font-family:ui-monospace,monospace}
.m{display:inline-block;width:64px;font-weight:700}.get{color:#0b7a3e}.post{color:#0b5fb3}.put{color:#9a6700}.delete{color:#b3261e}
.body{padding:0 16px 12px}pre{background:#f2f4f7;padding:8px;overflow:auto;border-radius:4px;font-size:13px}
</style></head><body><header><h1>SutazAI API</h1><div id="info"></div></header><main id="ops">Loading /openapi.json…</main>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  const esc=s=>String(s??'').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
  document.getElementById('info').textContent=(doc.info&&doc.info.version)?'version '+doc.info.version:'';
  const out=[];
  for(const [path,ops] of Object.entries(doc.paths||{}))for(const [method,op] of Object.entries(ops)){
    const params=(op.parameters||[]).map(p=>'<li><code>'+esc(p.name)+'</code> ('+esc(p.in)+')'+(p.required?' required':'')+'</li>').join('');
    const responses=Object.entries(op.responses||{}).map(([s,r])=>'<li><b>'+esc(s)+'</b> '+esc(r.description)+'</li>').join('');
    out.push('<details><summary><span class="m '+method+'">'+method.toUpperCase()+'</span>'+esc(path)+' — '+esc(op.summary)+'</summary><div class="body">'+
      (op.description?'<p>'+esc(op.description)+'</p>':'')+(params?'<h4>Parameters</h4><ul>'+params+'</ul>':'')+
      '<h4>Responses</h4><ul>'+responses+'</ul></div></details>');
  }
  document.getElementById('ops').innerHTML=out.join('');
}).catch(e=>{document.getElementById('ops').textContent='Could not load /openapi.json: '+e});
</script></body></html>`;

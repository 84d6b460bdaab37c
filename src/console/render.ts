// The browser side of structured messages, shared by the console and the status board: a script that builds
// DOM nodes from a message's parts. Every string from data goes in through textContent or an attribute set with
// setAttribute/href of a path this server made: no markup from data is ever parsed. Plain JavaScript (no build
// step); written without template literals or backticks so it can live in a TypeScript string.
export const RENDER_SCRIPT = String.raw`
var SB=window.SB||(window.SB={});
SB.el=function(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e};
/* Emoji: shown where a colour emoji font draws them; where none exists (a tofu box would appear) they are left
   out. Every emoji the bot sends sits beside words that carry the meaning, so nothing is lost. */
SB.emoji=(function(){try{var c=document.createElement('canvas');c.width=c.height=24;var x=c.getContext('2d');x.fillStyle='#000';x.textBaseline='top';x.font='20px '+getComputedStyle(document.body||document.documentElement).fontFamily;x.fillText('✅',0,0);var d=x.getImageData(0,0,24,24).data;for(var i=0;i<d.length;i+=4){if(d[i+3]>0&&(Math.abs(d[i]-d[i+1])>30||Math.abs(d[i+1]-d[i+2])>30))return true}return false}catch(e){return true}})();
SB.EMOJI=/(?:\p{Extended_Pictographic}|\p{Regional_Indicator})(?:️|‍(?:\p{Extended_Pictographic}))*️?\s?/gu;
SB.t=function(s){s=String(s);return SB.emoji?s:s.replace(SB.EMOJI,'')};
SB.size=function(n){if(n==null)return '';if(n<1024)return n+' B';if(n<1048576)return (n/1024).toFixed(1)+' kB';return (n/1048576).toFixed(1)+' MB'};
/* Inline code: single backticks become <code>, the rest stays text. */
SB.inline=function(parent,s){var bits=String(s).split('\x60');for(var i=0;i<bits.length;i++){if(i%2&&i<bits.length-1){parent.appendChild(SB.el('code','ic',bits[i]))}else{var t=SB.t((i%2?'\x60':'')+bits[i]);if(t)parent.appendChild(document.createTextNode(t))}}};
/* Text with the OutMessage markup: fenced blocks are <pre>, single backticks inline code. */
SB.text=function(parent,s){var parts=String(s).split('\x60\x60\x60');for(var i=0;i<parts.length;i++){if(i%2){var pre=SB.el('pre','code',SB.t(parts[i]).replace(/^[a-z0-9_-]*\n/i,'').replace(/\n$/,''));parent.appendChild(pre)}else if(parts[i]){var d=SB.el('div','txt');SB.inline(d,parts[i].replace(/^\n/,'').replace(/\n$/,''));parent.appendChild(d)}}};
/* Columns with long cells (over 40 characters) wrap; the others stay on one line. */
SB.cls=function(p,i,wide){var c=[];if(p.align&&p.align[i]==='right')c.push('num');if(wide[i])c.push('wrap');return c.join(' ')||null};
SB.table=function(p){var wide=p.columns.map(function(_,i){return p.rows.some(function(r){return String(r[i]==null?'':r[i]).length>40})});var box=SB.el('div','tablebox');box.tabIndex=0;var t=SB.el('table','grid');if(p.caption){t.appendChild(SB.el('caption',null,p.caption))}
  var th=SB.el('thead'),hr=SB.el('tr');p.columns.forEach(function(c,i){var h=SB.el('th',SB.cls(p,i,wide),c);h.scope='col';hr.appendChild(h)});th.appendChild(hr);t.appendChild(th);
  var tb=SB.el('tbody');p.rows.forEach(function(r){var tr=SB.el('tr');p.columns.forEach(function(_,i){tr.appendChild(SB.el('td',SB.cls(p,i,wide),r[i]==null?'':SB.t(r[i])))});tb.appendChild(tr)});t.appendChild(tb);box.appendChild(t);return box};
SB.fileLink=function(f){var a=SB.el('a','file');a.href='/console/api/files/'+encodeURIComponent(f.id);a.setAttribute('download',f.name);a.textContent='File: '+f.name+(f.size!=null?' ('+SB.size(f.size)+')':'');return a};
SB.image=function(f,alt){var fig=SB.el('figure','img');var img=SB.el('img');img.src='/console/api/files/'+encodeURIComponent(f.id);img.alt=alt||f.name;fig.appendChild(img);var cap=SB.el('figcaption');var a=SB.fileLink(f);a.textContent='Download '+f.name+(f.size!=null?' ('+SB.size(f.size)+')':'');cap.appendChild(a);fig.appendChild(cap);return fig};
/* A message body: its parts when it has them, else its text; files not placed by a part follow as links (images inline). */
SB.body=function(m){var body=SB.el('div','body');var files=m.files||[];var used={};
  var byName=function(n){for(var i=0;i<files.length;i++)if(files[i].name===n&&!used[i]){used[i]=1;return files[i]}return null};
  if(m.parts&&m.parts.length){m.parts.forEach(function(p){
    if(p.kind==='text')SB.text(body,p.text);
    else if(p.kind==='code')body.appendChild(SB.el('pre','code',p.text));
    else if(p.kind==='table')body.appendChild(SB.table(p));
    else if(p.kind==='image'){var f=byName(p.file);if(f)body.appendChild(SB.image(f,p.alt))}
    else if(p.kind==='file'){var g=byName(p.file);if(g){var d=SB.el('div','filerow');d.appendChild(SB.fileLink(g));body.appendChild(d)}}
  })}else SB.text(body,m.text);
  files.forEach(function(f,i){if(used[i])return;if(/^image\/(png|jpeg|gif|webp)$/.test(f.mime))body.appendChild(SB.image(f,f.name));else{var d=SB.el('div','filerow');d.appendChild(SB.fileLink(f));body.appendChild(d)}});
  return body};
`;

/** Styles for rendered messages (tables, code, images), shared by the console and the board. */
export const RENDER_STYLE = `
.body pre.code{background:#f3f4f6;padding:8px;border-radius:6px;overflow:auto;margin:4px 0;white-space:pre;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.body .txt{white-space:pre-wrap;overflow-wrap:anywhere}
code.ic{background:#eef0f3;border-radius:4px;padding:0 4px;font:0.95em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.tablebox{max-height:420px;overflow:auto;margin:6px 0;border:1px solid var(--line);border-radius:6px;max-width:100%}
table.grid{border-collapse:separate;border-spacing:0;font-size:13px;min-width:100%}
table.grid caption{text-align:left;font-weight:600;padding:4px 8px}
table.grid th{position:sticky;top:0;background:#eef2f7;text-align:left;font-weight:600;padding:5px 10px;border-bottom:1px solid var(--line);white-space:nowrap;z-index:1}
table.grid td{padding:4px 10px;border-bottom:1px solid #f0f1f3;white-space:nowrap;font-variant-numeric:tabular-nums}
table.grid tr:nth-child(even) td{background:#fafbfc}
table.grid .num{text-align:right}
table.grid td.wrap{white-space:normal;overflow-wrap:anywhere;min-width:14em}
figure.img{margin:6px 0}figure.img img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px;display:block}
figure.img figcaption{font-size:12px;margin-top:2px}
`;

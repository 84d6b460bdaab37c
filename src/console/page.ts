// The console's single page: login form, room list, message log, a command box with file attachment; a bot
// message's command buttons post their id to /console/api/command, which runs the stored command as the user.
// Plain HTML and JavaScript, no build step; text is inserted with textContent, never as HTML. Structured
// replies (tables, code, images, files) are built by the shared renderer in render.ts.
import { RENDER_SCRIPT, RENDER_STYLE } from './render.js';

/** Fonts: the system UI font, then emoji fonts where installed; every emoji in a reply sits beside words. */
export const FONT_STACK = "system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',sans-serif,'Noto Color Emoji','Apple Color Emoji','Segoe UI Emoji'";

export function consolePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard console</title>
<style>
:root{--bg:#f6f7f9;--fg:#1d2330;--mut:#6b7280;--acc:#2563eb;--line:#e5e7eb;--bot:#fff;--me:#eef2ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 ${FONT_STACK};background:var(--bg);color:var(--fg)}
#login{max-width:320px;margin:12vh auto;background:#fff;padding:24px;border:1px solid var(--line);border-radius:10px}
#login h1{font-size:18px;margin:0 0 16px}#login input{width:100%;padding:8px;margin:4px 0 12px;border:1px solid var(--line);border-radius:6px}
button{background:var(--acc);color:#fff;border:0;border-radius:6px;padding:8px 14px;cursor:pointer}button.link{background:none;color:var(--mut);padding:4px}
#err{color:#b91c1c;min-height:1.4em}
#app{display:none;height:100vh;grid-template-columns:200px 1fr;grid-template-rows:100%}
#side{border-right:1px solid var(--line);padding:12px;background:#fff;overflow:auto}#side h2{font-size:13px;color:var(--mut);text-transform:uppercase;margin:12px 0 6px}
.room{display:block;padding:4px 8px;border-radius:6px;color:var(--fg);text-decoration:none;cursor:pointer}.room.on{background:var(--me);color:var(--acc);font-weight:600}
#main{display:grid;grid-template-rows:auto 1fr auto;min-height:0;min-width:0}
#head{padding:10px 16px;border-bottom:1px solid var(--line);background:#fff;font-weight:600}
#log{overflow-y:auto;overflow-x:hidden;padding:12px 16px;min-width:0}
.msg{margin:0 0 10px;padding:8px 12px;border-radius:8px;background:var(--bot);border:1px solid var(--line);max-width:min(100%,1100px);min-width:0}
.msg.mine{background:var(--me)}.msg .who{font-size:12px;color:var(--mut);margin-bottom:2px}${RENDER_STYLE}
.msg a.file{display:inline-block;margin-top:4px}.msg button.confirm{margin-top:6px}
.msg .cmdbtns{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}.msg button.cmdbtn{padding:5px 12px}.msg button.cmdbtn:disabled{opacity:.6;cursor:default}
#form{display:flex;gap:8px;padding:12px 16px;border-top:1px solid var(--line);background:#fff}#cmd{flex:1;padding:9px;border:1px solid var(--line);border-radius:6px;font-family:ui-monospace,monospace}
#file{max-width:220px}#limit{align-self:center;font-size:12px;color:var(--mut);white-space:nowrap}
#start{max-width:640px;margin:24px auto;padding:16px 20px;background:#fff;border:1px solid var(--line);border-radius:10px}#start h3{margin:0 0 8px;font-size:16px}
#start ul{margin:6px 0 0;padding-left:18px}#start li{margin:4px 0}#start button.try{background:#eef2ff;color:var(--acc);font:13px ui-monospace,monospace;padding:2px 8px;margin-right:6px}
#side a.board{display:block;margin-top:12px;color:var(--acc)}
</style></head><body>
<form id="login" autocomplete="on"><h1>Switchboard</h1>
<label>User<input id="u" name="username" autocomplete="username" required></label>
<label>Password<input id="p" name="password" type="password" autocomplete="current-password" required></label>
<div id="err" role="alert"></div><button type="submit">Log in</button></form>
<div id="app"><nav id="side"><div id="whoami"></div><h2>Rooms</h2><div id="rooms"></div><h2>Direct</h2><div id="dms"></div>
<a class="board" href="/console/board" target="_blank" rel="noopener">Status board</a>
<p><button class="link" id="logout" type="button">Log out</button></p></nav>
<section id="main"><div id="head"></div><div id="log" aria-live="polite"></div>
<form id="form"><input id="cmd" placeholder="Type a command, e.g. help" autocomplete="off" aria-label="command">
<input id="file" type="file" aria-label="attach file"><span id="limit"></span><button type="submit">Send</button></form></section></div>
<script>
${RENDER_SCRIPT}
(function(){
var me=null, room=null, es=null, skew=0;
var $=function(id){return document.getElementById(id)};
function api(path, opts){opts=opts||{};opts.headers=opts.headers||{};opts.credentials='same-origin';if(me&&me.csrf)opts.headers['x-csrf-token']=me.csrf;return fetch(path,opts)}
function render(m){
  var el=document.createElement('div');el.className='msg'+(m.author!=='bot'?' mine':'');el.id='m'+m.id;el.dataset.room=m.room;
  var who=document.createElement('div');who.className='who';who.textContent=(m.author==='bot'?'switchboard':m.author)+' · '+new Date(m.created_at).toLocaleTimeString();el.appendChild(who);
  el.appendChild(SB.body(m));
  if(m.author==='bot'&&m.buttons&&m.buttons.length){var row=document.createElement('div');row.className='cmdbtns';
    m.buttons.forEach(function(x){var bb=document.createElement('button');bb.type='button';bb.className='cmdbtn';bb.dataset.button=x.id;bb.textContent=SB.t(x.label);bb.title='Runs the command as you';bb.onclick=function(){bb.disabled=true;press(x.id).then(function(){bb.disabled=false})};row.appendChild(bb)});
    el.appendChild(row);}
  var cm=m.author==='bot'&&/send \\x60confirm ([A-Z0-9]{6})\\x60/.exec(String(m.text));
  if(cm){var b=document.createElement('button');b.type='button';b.className='confirm';b.textContent='Confirm';b.onclick=function(){b.disabled=true;send('confirm '+cm[1])};el.appendChild(b);
    var ttl=/within (\\d+) s/.exec(String(m.text)), left=ttl?m.created_at+Number(ttl[1])*1000-(Date.now()+skew):Infinity;
    var expire=function(){b.disabled=true;b.textContent='Expired';b.title='This code has expired: run the command again'};
    if(left<=0) expire(); else if(left<864e5) setTimeout(expire,left);}
  return el;
}
var TRY=[['help','what I can do, by group'],['help dhcp','every DHCP command'],['dhcp list','the hosts with fixed addresses'],['monitor nodes','monitored nodes and their state'],['alerts','open alerts']];
function startCard(){
  var c=document.createElement('div');c.id='start';c.appendChild(SB.el('h3',null,'Start here'));
  c.appendChild(SB.el('div',null,'Type a command below and press Enter, or try one of these:'));
  var ul=document.createElement('ul');TRY.forEach(function(t){var li=document.createElement('li');var b=SB.el('button','try',t[0]);b.type='button';b.onclick=function(){$('cmd').value=t[0];$('cmd').focus()};li.appendChild(b);li.appendChild(document.createTextNode(t[1]));ul.appendChild(li)});c.appendChild(ul);
  var p=SB.el('div',null,'Attach a sheet (CSV or XLSX) with the file chooser for imports. The live status board is linked on the left.');p.style.marginTop='8px';c.appendChild(p);
  return c;
}
function upsert(m){
  if(m.room!==room && m.room!==me.dmRoom) return;
  if(m.room!==room){ var d=$('dms').firstChild; if(d) d.textContent=me.dmRoom+' •'; return; }
  var old=$('m'+m.id), log=$('log'), atEnd=log.scrollTop+log.clientHeight>=log.scrollHeight-40;
  var sc=$('start'); if(sc) sc.remove();
  var el=render(m); if(old) old.replaceWith(el); else log.appendChild(el);
  if(atEnd||!old) log.scrollTop=log.scrollHeight;
}
function open(r){
  room=r; $('head').textContent=(r.charAt(0)==='@'?'Direct messages':'#'+r);
  Array.prototype.forEach.call(document.querySelectorAll('.room'),function(a){a.classList.toggle('on',a.dataset.room===r); if(a.dataset.room===r&&r===me.dmRoom)a.textContent=r});
  $('log').textContent='';
  if(es) es.close();
  es=new EventSource('/console/api/events?room='+encodeURIComponent(r));
  es.addEventListener('new',function(e){upsert(JSON.parse(e.data))});
  es.addEventListener('edit',function(e){upsert(JSON.parse(e.data))});
  es.onopen=function(){api('/console/api/messages?room='+encodeURIComponent(r)).then(function(x){return x.json()}).then(function(d){(d.messages||[]).forEach(upsert); if(!(d.messages||[]).length&&!$('log').firstChild) $('log').appendChild(startCard())})};
  $('cmd').focus();
}
function start(d){
  me=d; if(d.now) skew=d.now-Date.now(); if(d.uploadLimit) $('limit').textContent='max '+d.uploadLimit.text; $('login').style.display='none'; $('app').style.display='grid'; $('whoami').textContent='Logged in as '+d.username;
  var rs=$('rooms'); rs.textContent='';
  d.rooms.forEach(function(r){var a=document.createElement('a');a.className='room';a.dataset.room=r;a.textContent='#'+r;a.onclick=function(){open(r)};rs.appendChild(a)});
  var dm=document.createElement('a');dm.className='room';dm.dataset.room=d.dmRoom;dm.textContent=d.dmRoom;dm.onclick=function(){open(d.dmRoom)};$('dms').textContent='';$('dms').appendChild(dm);
  open(d.defaultRoom);
}
$('login').addEventListener('submit',function(e){
  e.preventDefault(); $('err').textContent='';
  fetch('/console/api/login',{method:'POST',credentials:'same-origin',headers:{'content-type':'application/json'},body:JSON.stringify({username:$('u').value,password:$('p').value})})
  .then(function(r){return r.json().then(function(b){return {ok:r.ok,b:b}})})
  .then(function(x){ if(!x.ok){$('err').textContent=x.b.error||'login failed';return} return api('/console/api/me').then(function(r){return r.json()}).then(start) });
});
function send(t, f){
  var fd=new FormData(); fd.append('room',room); fd.append('text',t); if(f) fd.append('file',f,f.name);
  return api('/console/api/command',{method:'POST',body:fd}).then(function(r){ if(!r.ok) return r.json().then(function(b){ if(b.posted){$('file').value='';return false} alert(b.error||'failed');return false}); return true; });
}
function press(id){
  return api('/console/api/command',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({room:room,button:id})}).then(function(r){ if(!r.ok) return r.json().then(function(b){alert(b.error||'failed')}) });
}
$('form').addEventListener('submit',function(e){
  e.preventDefault(); var t=$('cmd').value.trim(); if(!t) return;
  send(t, $('file').files[0]).then(function(ok){ if(ok){ $('cmd').value=''; $('file').value=''; } });
});
$('logout').onclick=function(){api('/console/api/logout',{method:'POST'}).then(function(){location.reload()})};
api('/console/api/me').then(function(r){ if(r.ok) return r.json().then(start) });
})();
</script></body></html>`;
}

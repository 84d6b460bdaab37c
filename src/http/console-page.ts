// The console's single page: login form, room list, message log, a command box with file attachment.
// Plain HTML and JavaScript, no build step; text is inserted with textContent, never as HTML.
export function consolePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard console</title>
<style>
:root{--bg:#f6f7f9;--fg:#1d2330;--mut:#6b7280;--acc:#2563eb;--line:#e5e7eb;--bot:#fff;--me:#eef2ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
#login{max-width:320px;margin:12vh auto;background:#fff;padding:24px;border:1px solid var(--line);border-radius:10px}
#login h1{font-size:18px;margin:0 0 16px}#login input{width:100%;padding:8px;margin:4px 0 12px;border:1px solid var(--line);border-radius:6px}
button{background:var(--acc);color:#fff;border:0;border-radius:6px;padding:8px 14px;cursor:pointer}button.link{background:none;color:var(--mut);padding:4px}
#err{color:#b91c1c;min-height:1.4em}
#app{display:none;height:100vh;grid-template-columns:200px 1fr;grid-template-rows:100%}
#side{border-right:1px solid var(--line);padding:12px;background:#fff;overflow:auto}#side h2{font-size:13px;color:var(--mut);text-transform:uppercase;margin:12px 0 6px}
.room{display:block;padding:4px 8px;border-radius:6px;color:var(--fg);text-decoration:none;cursor:pointer}.room.on{background:var(--me);color:var(--acc);font-weight:600}
#main{display:grid;grid-template-rows:auto 1fr auto;min-height:0}
#head{padding:10px 16px;border-bottom:1px solid var(--line);background:#fff;font-weight:600}
#log{overflow:auto;padding:12px 16px}
.msg{margin:0 0 10px;padding:8px 12px;border-radius:8px;background:var(--bot);border:1px solid var(--line);max-width:980px;white-space:pre-wrap;word-wrap:break-word}
.msg.mine{background:var(--me)}.msg .who{font-size:12px;color:var(--mut);margin-bottom:2px}.msg pre{background:#f3f4f6;padding:8px;border-radius:6px;overflow:auto;margin:4px 0;white-space:pre}
.msg a.file{display:inline-block;margin-top:4px}.msg button.confirm{margin-top:6px}
#form{display:flex;gap:8px;padding:12px 16px;border-top:1px solid var(--line);background:#fff}#cmd{flex:1;padding:9px;border:1px solid var(--line);border-radius:6px;font-family:ui-monospace,monospace}
#file{max-width:220px}
</style></head><body>
<form id="login" autocomplete="on"><h1>Switchboard</h1>
<label>User<input id="u" name="username" autocomplete="username" required></label>
<label>Password<input id="p" name="password" type="password" autocomplete="current-password" required></label>
<div id="err" role="alert"></div><button type="submit">Log in</button></form>
<div id="app"><nav id="side"><div id="whoami"></div><h2>Rooms</h2><div id="rooms"></div><h2>Direct</h2><div id="dms"></div>
<p><button class="link" id="logout" type="button">Log out</button></p></nav>
<section id="main"><div id="head"></div><div id="log" aria-live="polite"></div>
<form id="form"><input id="cmd" placeholder="Type a command, e.g. help" autocomplete="off" aria-label="command">
<input id="file" type="file" aria-label="attach file"><button type="submit">Send</button></form></section></div>
<script>
(function(){
var me=null, room=null, es=null;
var $=function(id){return document.getElementById(id)};
function api(path, opts){opts=opts||{};opts.headers=opts.headers||{};opts.credentials='same-origin';if(me&&me.csrf)opts.headers['x-csrf-token']=me.csrf;return fetch(path,opts)}
function render(m){
  var el=document.createElement('div');el.className='msg'+(m.author!=='bot'?' mine':'');el.id='m'+m.id;el.dataset.room=m.room;
  var who=document.createElement('div');who.className='who';who.textContent=(m.author==='bot'?'switchboard':m.author)+' · '+new Date(m.created_at).toLocaleTimeString();el.appendChild(who);
  var body=document.createElement('div');body.className='body';
  var parts=String(m.text).split('\`\`\`');
  for(var i=0;i<parts.length;i++){ if(i%2){var pre=document.createElement('pre');pre.textContent=parts[i].replace(/^\\n/,'');body.appendChild(pre);} else if(parts[i]){body.appendChild(document.createTextNode(parts[i]));} }
  el.appendChild(body);
  var cm=m.author==='bot'&&/send \\x60confirm ([A-Z0-9]{6})\\x60/.exec(String(m.text));
  if(cm){var b=document.createElement('button');b.type='button';b.className='confirm';b.textContent='Confirm';b.onclick=function(){b.disabled=true;send('confirm '+cm[1])};el.appendChild(b)}
  (m.files||[]).forEach(function(f){var a=document.createElement('a');a.className='file';a.href='/console/api/files/'+f.id;a.textContent='📄 '+f.name;a.setAttribute('download',f.name);el.appendChild(document.createElement('br'));el.appendChild(a)});
  return el;
}
function upsert(m){
  if(m.room!==room && m.room!==me.dmRoom) return;
  if(m.room!==room){ var d=$('dms').firstChild; if(d) d.textContent=me.dmRoom+' •'; return; }
  var old=$('m'+m.id), log=$('log'), atEnd=log.scrollTop+log.clientHeight>=log.scrollHeight-40;
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
  es.onopen=function(){api('/console/api/messages?room='+encodeURIComponent(r)).then(function(x){return x.json()}).then(function(d){(d.messages||[]).forEach(upsert)})};
  $('cmd').focus();
}
function start(d){
  me=d; $('login').style.display='none'; $('app').style.display='grid'; $('whoami').textContent='Logged in as '+d.username;
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
  return api('/console/api/command',{method:'POST',body:fd}).then(function(r){ if(!r.ok) return r.json().then(function(b){alert(b.error||'failed');return false}); return true; });
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

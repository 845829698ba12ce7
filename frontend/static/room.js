// The session room in the browser: join (a join token, then the signalling
// WebSocket), who is here, chat, the countdown to the server's deadline,
// warnings, the extension, and the end screen. The screen is kept awake
// while in the room, and a dropped connection rejoins by itself.
(function () {
  'use strict';
  var root = document.querySelector('[data-room]');
  var panel = document.getElementById('room-live');
  if (!root || !panel || root.getAttribute('data-state') !== 'open') return;
  var id = root.getAttribute('data-room');
  var linkToken = new URLSearchParams(window.location.search).get('token') || '';
  var joinButton = document.getElementById('room-join');
  var status = document.getElementById('room-status');
  var timer = document.getElementById('room-timer');
  var log = document.getElementById('room-chat-log');
  var form = document.getElementById('room-chat');
  var input = document.getElementById('room-chat-text');
  var extend = document.getElementById('room-extend');
  var leave = document.getElementById('room-leave');
  var ended = document.getElementById('room-ended');
  var mute = document.getElementById('room-mute');
  var speaker = document.getElementById('room-audio');
  var socket = null, deadline = 0, offset = 0, finished = false, wakeLock = null, retries = 0, tick = null;
  var iceServers = [];
  var pc = null, microphone = null, audioContext = null, meters = [], screenSender = null, shared = null;
  var shareButton = document.getElementById('room-share');
  var screenBox = document.getElementById('room-screen-box');
  var screen = document.getElementById('room-screen');

  // Screen sharing (desktop browsers): the shared screen replaces the empty
  // video track; stopping puts the empty one back.
  function share(stream) {
    if (!screenSender) return Promise.resolve();
    var track = stream.getVideoTracks()[0];
    track.onended = function () { stopSharing(); };
    return screenSender.replaceTrack(track).then(function () {
      shared = stream;
      shareButton.textContent = 'Stop sharing';
      say('You are sharing your screen.');
    });
  }
  function stopSharing() {
    if (screenSender) screenSender.replaceTrack(null).catch(function () {});
    if (shared) { shared.getTracks().forEach(function (t) { t.stop(); }); shared = null; }
    shareButton.textContent = 'Share screen';
  }
  window.__ohShare = share;
  var micField = document.getElementById('room-mic-field');
  var micSelect = document.getElementById('room-mic');

  // A speaking indicator: lights while a stream carries sound.
  function meter(stream, badge) {
    if (!window.AudioContext || !badge) return;
    unlockAudio();
    var analyser = audioContext.createAnalyser();
    analyser.fftSize = 512;
    audioContext.createMediaStreamSource(stream).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    var timer = setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i] - 128));
      badge.classList.toggle('speaking', peak > 8);
    }, 150);
    meters.push(timer);
  }

  // The microphone list, once the browser allows reading its labels.
  function listMicrophones() {
    if (!navigator.mediaDevices.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      var inputs = devices.filter(function (d) { return d.kind === 'audioinput'; });
      var current = microphone && microphone.getAudioTracks()[0].getSettings().deviceId;
      micSelect.textContent = '';
      inputs.forEach(function (d, i) {
        var option = document.createElement('option');
        option.value = d.deviceId; option.textContent = d.label || 'Microphone ' + (i + 1);
        option.selected = d.deviceId === current;
        micSelect.appendChild(option);
      });
      show(micField, inputs.length > 1);
    }).catch(function () {});
  }

  // The voice: the microphone goes to the server, the other person's voice
  // comes back through it (the server forwards it and stops it on time).
  function startAudio() {
    if (!navigator.mediaDevices || !window.RTCPeerConnection) {
      say('This browser cannot do voice here; chat still works.');
      return;
    }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      microphone = stream;
      listMicrophones();
      meter(stream, document.getElementById('room-speaking-me'));
      // window.__ohIceTransportPolicy = 'relay' (set by a test before
      // joining) sends everything through the TURN servers; never by default.
      var policy = window.__ohIceTransportPolicy === 'relay' ? 'relay' : 'all';
      pc = new RTCPeerConnection({ iceServers: iceServers, iceTransportPolicy: policy });
      window.__ohPeer = pc;
      stream.getAudioTracks().forEach(function (track) { pc.addTrack(track, stream); });
      // A video line from the start, so a shared screen needs no new offer.
      screenSender = pc.addTransceiver('video', { direction: 'sendrecv' }).sender;
      pc.ontrack = function (event) {
        if (event.track.kind === 'video') {
          var track = event.track;
          screen.srcObject = new MediaStream([track]);
          track.onunmute = function () { show(screenBox, true); screen.play().catch(function () {}); };
          track.onmute = function () { show(screenBox, false); };
          return;
        }
        var remote = event.streams[0] || new MediaStream([event.track]);
        speaker.srcObject = remote;
        speaker.play().catch(function () {});
        meter(remote, document.getElementById('room-speaking-other'));
      };
      return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); }).then(function () {
        socket.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }));
      });
    }).catch(function () {
      say('The microphone is not available. Allow it in the browser to talk; chat still works.');
    });
  }

  // `counted`: the session has ended; the connection is closed after a
  // last look at its counters (see closeCounted).
  function stopAudio(counted) {
    meters.forEach(clearInterval); meters = [];
    stopSharing(); screenSender = null; show(screenBox, false);
    var peer = pc, mic = microphone;
    pc = null; microphone = null;
    var release = function () {
      if (peer) peer.close();
      if (mic) mic.getTracks().forEach(function (t) { t.stop(); });
    };
    if (counted && peer) {
      // Silence at once: a disabled track still sends (silent) packets.
      if (mic) mic.getTracks().forEach(function (t) { t.enabled = false; });
      closeCounted(peer, release);
    } else {
      release();
    }
  }

  // The audio packets received and sent so far, and the report's time.
  function audioCount(peer) {
    return peer.getStats().then(function (report) {
      var count = { received: 0, sent: 0, timestamp: 0 };
      report.forEach(function (r) {
        count.timestamp = Math.max(count.timestamp, r.timestamp || 0);
        if (r.kind !== 'audio') return;
        if (r.type === 'inbound-rtp') count.received += r.packetsReceived || 0;
        if (r.type === 'outbound-rtp') count.sent += r.packetsSent || 0;
      });
      return count;
    });
  }

  // The end of the session: for one more second the page keeps sending
  // silence and counts the audio packets that still arrive (none should:
  // the server stopped forwarding before it said the time is up), then it
  // closes the connection. window.__ohEndStats = { atEnd, later } keeps both
  // counts for the browser tests.
  function closeCounted(peer, release) {
    audioCount(peer).then(function (atEnd) {
      window.__ohEndStats = { atEnd: atEnd };
      var again = function () {
        audioCount(peer).then(function (later) {
          if (later.timestamp - atEnd.timestamp < 1000) { setTimeout(again, 250); return; }
          window.__ohEndStats = { atEnd: atEnd, later: later };
          release();
        }, release);
      };
      setTimeout(again, 1000);
    }, release);
  }

  function show(el, on) { if (el) el.hidden = !on; }
  function say(text) { status.textContent = text; }

  // Chat text is shown as text; links are made clickable, nothing else.
  function addLine(who, text) {
    var item = document.createElement('li');
    var name = document.createElement('strong');
    name.textContent = who + ': ';
    item.appendChild(name);
    text.split(/(https?:\/\/[^\s<>"]+)/).forEach(function (part, i) {
      if (i % 2 === 1) {
        var a = document.createElement('a');
        a.href = part; a.textContent = part; a.rel = 'noopener noreferrer'; a.target = '_blank';
        item.appendChild(a);
      } else if (part) {
        item.appendChild(document.createTextNode(part));
      }
    });
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function countdown() {
    var left = Math.max(0, Math.ceil((deadline - (Date.now() + offset)) / 1000));
    timer.textContent = 'Time left: ' + Math.floor(left / 60) + ':' + (left % 60 < 10 ? '0' : '') + (left % 60);
  }

  function keepAwake() {
    if (!('wakeLock' in navigator)) return;
    navigator.wakeLock.request('screen').then(function (lock) { wakeLock = lock; }).catch(function () {});
  }
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible' && socket && !finished) keepAwake();
  });

  function end(message) {
    finished = true;
    if (tick) clearInterval(tick);
    stopAudio(true);
    if (wakeLock) { wakeLock.release().catch(function () {}); wakeLock = null; }
    show(panel, false);
    show(document.querySelector('.room-state'), false);
    say('');
    show(ended, true);
    document.getElementById('room-ended-why').textContent = message;
  }

  function join() {
    joinButton.disabled = true;
    say('Joining…');
    var url = '/rooms/' + id + '/join-token' + (linkToken ? '?token=' + encodeURIComponent(linkToken) : '');
    fetch(url, { credentials: 'same-origin' }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) { joinButton.disabled = false; say(answer.body.message || 'The room cannot be joined.'); return; }
      var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
      socket = new WebSocket(scheme + window.location.host + answer.body.socket);
      // The browser tests cut this (and window.__ohPeer) to see the page
      // come back by itself.
      window.__ohSocket = socket;
      socket.onopen = function () { socket.send(JSON.stringify({ type: 'join', token: answer.body.token })); };
      socket.onmessage = function (event) { receive(JSON.parse(event.data)); };
      socket.onclose = function () {
        socket = null;
        if (finished) return;
        // The network changed or dropped: come back in by ourselves.
        if (retries < 5) { retries += 1; say('Reconnecting…'); setTimeout(join, 1000 * retries); }
        else { joinButton.disabled = false; say('The connection was lost. Press Join to try again.'); }
      };
    }).catch(function () {
      joinButton.disabled = false;
      say('The room could not be reached. Check your connection and press Join again.');
    });
  }

  function receive(m) {
    if (m.type === 'joined') {
      retries = 0;
      deadline = Date.parse(m.deadline);
      offset = Date.parse(m.server_time) - Date.now();
      root.setAttribute('data-in-room', '');
      show(document.querySelector('[data-countdown-to]'), false);
      show(joinButton, false); show(panel, true);
      say(m.other_here ? m.other + ' is here.' : 'You are in. Waiting for the other person…');
      if (m.role === 'advisor') show(extend, true);
      countdown(); if (tick) clearInterval(tick); tick = setInterval(countdown, 1000);
      keepAwake();
      stopAudio();
      iceServers = m.ice_servers || [];
      if (m.media) {
        show(mute, true);
        show(shareButton, !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia));
        startAudio();
      }
    } else if (m.type === 'answer') {
      if (pc) pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(function () { say('The voice could not connect.'); });
    } else if (m.type === 'presence') {
      say(m.here ? m.name + ' is here.' : m.name + ' left the room.');
    } else if (m.type === 'chat') {
      addLine(m.name, m.text);
    } else if (m.type === 'deadline') {
      deadline = Date.parse(m.deadline); countdown();
      say('The session was extended by 4 minutes.');
      show(extend, false);
    } else if (m.type === 'warning') {
      say(m.text);
    } else if (m.type === 'error') {
      say(m.message);
    } else if (m.type === 'bye') {
      if (m.reason === 'replaced') { finished = true; say(m.message); show(panel, false); return; }
      end(m.message);
    }
  }

  // Sound starts inside the click: browsers with the strictest autoplay
  // rules (Safari) only let a page's audio start from a user's gesture, and
  // the room's answer comes after it. The speaking meters use this context.
  function unlockAudio() {
    if (!window.AudioContext) return;
    audioContext = audioContext || new AudioContext();
    if (audioContext.state === 'suspended') audioContext.resume().catch(function () {});
  }
  joinButton.addEventListener('click', function () { unlockAudio(); join(); });
  shareButton.addEventListener('click', function () {
    if (shared) { stopSharing(); return; }
    navigator.mediaDevices.getDisplayMedia({ video: true }).then(share).catch(function () {
      say('The screen was not shared.');
    });
  });
  micSelect.addEventListener('change', function () {
    if (!pc || !microphone) return;
    var muted = !microphone.getAudioTracks()[0].enabled;
    navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: micSelect.value } } }).then(function (stream) {
      var track = stream.getAudioTracks()[0];
      track.enabled = !muted;
      var sender = pc.getSenders().find(function (s) { return s.track && s.track.kind === 'audio'; });
      return (sender ? sender.replaceTrack(track) : Promise.resolve()).then(function () {
        microphone.getTracks().forEach(function (t) { t.stop(); });
        microphone = stream;
        meter(stream, document.getElementById('room-speaking-me'));
      });
    }).catch(function () { say('That microphone cannot be used.'); });
  });
  mute.addEventListener('click', function () {
    if (!microphone) return;
    var track = microphone.getAudioTracks()[0];
    track.enabled = !track.enabled;
    mute.textContent = track.enabled ? 'Mute' : 'Unmute';
    mute.setAttribute('aria-pressed', String(!track.enabled));
  });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || !socket) return;
    socket.send(JSON.stringify({ type: 'chat', text: text }));
    input.value = '';
  });
  extend.addEventListener('click', function () { if (socket) socket.send(JSON.stringify({ type: 'extend' })); });
  leave.addEventListener('click', function () {
    if (socket) socket.send(JSON.stringify({ type: 'leave' }));
    end('You left the room. You can join again until the session ends.');
    finished = false;
    show(joinButton, true); joinButton.disabled = false;
  });
})();

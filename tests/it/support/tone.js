// Test harness for the room's voice, loaded into a browser page by the
// browser tests (Chromium and Firefox alike).
//
// window.__ohTestTone(hz): from now on the page's "microphone" is a pure
//   sine tone of `hz` synthesised by Web Audio (no device, so no echo
//   cancellation, noise suppression or gain control touch it).
// window.__ohHeardFrequency(): resolves to the dominant frequency (Hz) of
//   what the page receives from the room (the other person's voice), or 0
//   while nothing is received.
(function () {
  'use strict';
  var context = null;
  function audio() {
    context = context || new AudioContext();
    if (context.state === 'suspended') context.resume().catch(function () {});
    return context;
  }
  window.__ohTestTone = function (hz) {
    var devices = navigator.mediaDevices;
    devices.getUserMedia = function () {
      var ctx = audio();
      var oscillator = ctx.createOscillator();
      oscillator.type = 'sine';
      oscillator.frequency.value = hz;
      var gain = ctx.createGain();
      gain.gain.value = 0.5;
      var sink = ctx.createMediaStreamDestination();
      oscillator.connect(gain).connect(sink);
      oscillator.start();
      return Promise.resolve(sink.stream);
    };
    devices.enumerateDevices = function () {
      return Promise.resolve([{ kind: 'audioinput', deviceId: 'tone', groupId: 'tone', label: 'Test tone ' + hz + ' Hz' }]);
    };
  };
  var analyser = null, analysed = null;
  window.__ohHeardFrequency = function () {
    var pc = window.__ohPeer;
    if (!pc) return Promise.resolve(0);
    // A rejoin makes a new peer connection: listen to that one from then on.
    if (analysed !== pc) analyser = null;
    if (!analyser) {
      var tracks = pc.getReceivers().map(function (r) { return r.track; })
        .filter(function (t) { return t && t.kind === 'audio'; });
      if (!tracks.length) return Promise.resolve(0);
      var ctx = audio();
      analysed = pc;
      analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(new MediaStream(tracks)).connect(analyser);
      // Let the analyser fill its window before the first reading.
      return new Promise(function (done) { setTimeout(done, 300); }).then(window.__ohHeardFrequency);
    }
    var bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    var best = 0, loudest = -Infinity;
    for (var i = 1; i < bins.length; i++) {
      if (bins[i] > loudest) { loudest = bins[i]; best = i; }
    }
    // Silence reads about -100 dB or below everywhere.
    if (loudest < -70) return Promise.resolve(0);
    return Promise.resolve(best * analyser.context.sampleRate / analyser.fftSize);
  };
})();

// The ask form's challenge (app/challenge.py): while the person writes, find a number n
// such that SHA-256(challenge + ":" + n) starts with the asked-for number of zero bits,
// so that a request sent while the group is flooded goes straight to the stewards' queue.
// Only runs when the page asks for it; without JavaScript (or without crypto.subtle, which
// browsers give only to https pages) the form works all the same: the challenge then
// counts the time since the page was loaded. Our own code, nothing from elsewhere.
(function () {
  "use strict";
  var form = document.querySelector("form[data-challenge-bits]");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) return;
  var bits = parseInt(form.getAttribute("data-challenge-bits"), 10);
  if (!(bits > 0)) return;
  var token = form.elements.challenge.value;
  var proof = form.elements.proof;
  var encoder = new TextEncoder();
  var solved = false;
  var sending = false;
  var sent = false;
  var BATCH = 256;

  function zeroBits(bytes) {
    var count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      var b = bytes[i];
      while ((b & 0x80) === 0) { count++; b <<= 1; }
      return count;
    }
    return count;
  }

  function send() {
    if (!sending || sent) return;
    sent = true;
    form.submit(); // submit() skips the listener below
  }

  async function solve() {
    for (var start = 0; ; start += BATCH) {
      var tries = [];
      for (var n = start; n < start + BATCH; n++) {
        tries.push(window.crypto.subtle.digest("SHA-256", encoder.encode(token + ":" + n)));
      }
      var digests = await Promise.all(tries);
      for (var i = 0; i < digests.length; i++) {
        if (zeroBits(new Uint8Array(digests[i])) >= bits) {
          proof.value = String(start + i);
          solved = true;
          form.setAttribute("data-challenge-solved", "");
          send();
          return;
        }
      }
    }
  }

  form.addEventListener("submit", function (event) {
    if (solved) return;
    // Not solved yet: send as soon as it is (or after ten seconds, when waiting counts).
    event.preventDefault();
    sending = true;
    window.setTimeout(function () { solved = true; send(); }, 10000);
  });
  solve();
})();

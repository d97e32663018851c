/*
  Loaded into the preview's Anki panes only: their sandbox allows scripts (MathJax draws the
  formulas) and never same-origin, so the page cannot measure them itself. This script tells
  the page how tall the card is, so the frame shows it whole and an update keeps the page's
  scroll position, and when MathJax has drawn the card. It sends numbers and reads nothing.
*/
"use strict";
(function reportToPage() {
  let last = -1;
  function sendHeight() {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      parent.postMessage({ previewFrameHeight: height }, "*");
    }
  }
  function sendDrawn() {
    sendHeight();
    parent.postMessage({ previewFrameDrawn: true }, "*");
  }
  new ResizeObserver(sendHeight).observe(document.documentElement);
  // "load" waits for the MathJax script (async); its typesetting ends with startup.promise.
  addEventListener("load", () => {
    const startup = window.MathJax && window.MathJax.startup;
    if (startup && startup.promise) startup.promise.then(sendDrawn, sendDrawn);
    else sendDrawn();
  });
})();

// Marks <body data-mathjax-done="1"> once MathJax 2 has typeset the page (read by tests/test_docs.py).
(function () {
  function mark() { document.body.setAttribute("data-mathjax-done", "1"); }
  function hook() {
    if (window.MathJax && MathJax.Hub && MathJax.Hub.Queue) { MathJax.Hub.Queue(mark); }
    else { setTimeout(hook, 50); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", hook); } else { hook(); }
})();

// Loaded before the vendored widget manager (nb_ipywidgets_js in _config.yml), whose folder
// under _static/ is this script's data-html-manager attribute.
(function () {
  // The manager's AMD modules find their fonts beside their own URLs: say where they are.
  var script = document.currentScript;
  var dir = script.src.replace(/[^/]*$/, "") + script.dataset.htmlManager;
  requirejs.config({
    paths: { "@jupyter-widgets": dir, "@jupyter-widgets/html-manager/dist": dir },
  });
  // It typesets widget labels with MathJax 2's MathJax.Hub.Queue; the book runs MathJax 3.
  window.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Queue: function (job) {
        (mj.startup ? mj.startup.promise : Promise.resolve()).then(function () {
          if (window.MathJax.typesetPromise) window.MathJax.typesetPromise([job[2]]);
        });
      },
    };
  });
})();

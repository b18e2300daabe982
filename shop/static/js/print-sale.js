// Open the print dialog on a sale's PDF as soon as the sale page loads (the counter's workflow).
// The PDF loads in a hidden same-origin frame; the button stays as a fallback and for reprints.
(function () {
  "use strict";
  var link = document.querySelector("[data-autoprint]");
  if (!link) {
    return;
  }
  var frame = document.createElement("iframe");
  frame.className = "print-frame";
  frame.setAttribute("aria-hidden", "true");
  frame.setAttribute("tabindex", "-1");
  frame.addEventListener("load", function () {
    try {
      frame.contentWindow.focus();
      frame.contentWindow.print();
    } catch (error) {
      // printing from the frame was refused: the button below does it
    }
    // Keyboard users get the focus back on the page, not in the invisible frame.
    link.focus();
  });
  frame.src = link.href;
  document.body.appendChild(frame);
})();

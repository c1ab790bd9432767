// Filters for the campaign preview: by channel (check boxes) and by day (select, or a day in the calendar).
// Plain JavaScript, no libraries; the page works without it (everything is shown).
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var days = Array.prototype.slice.call(document.querySelectorAll(".day"));
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=channel]"));
  var daySelect = document.getElementById("filter-day");
  var shown = document.getElementById("shown-count");

  function apply() {
    var channels = {};
    boxes.forEach(function (box) { channels[box.value] = box.checked; });
    var day = daySelect.value;
    var count = 0;
    cards.forEach(function (card) {
      var visible = channels[card.dataset.channel] === true && (day === "" || card.dataset.day === day);
      card.hidden = !visible;
      if (visible) { count += 1; }
    });
    days.forEach(function (section) {
      section.hidden = section.querySelector(".card:not([hidden])") === null;
    });
    shown.textContent = String(count);
  }

  function setAll(checked) {
    boxes.forEach(function (box) { box.checked = checked; });
    apply();
  }

  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  daySelect.addEventListener("change", apply);
  document.getElementById("channels-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("channels-none").addEventListener("click", function () { setAll(false); });
  Array.prototype.forEach.call(document.querySelectorAll(".day-link"), function (button) {
    button.addEventListener("click", function () {
      // A second click on the chosen day shows every day again.
      daySelect.value = daySelect.value === button.dataset.day ? "" : button.dataset.day;
      apply();
      document.getElementById("filters").scrollIntoView();
    });
  });
  apply();
}());

// The notifications page: new in-app notifications arrive over Server-Sent Events and are put at
// the top of the list; "mark all read" calls the API with the page's own session (same origin).
(function () {
  "use strict";
  var section = document.getElementById("my-notifications");
  var feed = document.getElementById("feed");
  if (!section || !feed) return;
  var unread = document.getElementById("unread");
  var button = document.getElementById("mark-read");
  var newest = Number(section.dataset.newest || 0);

  function setUnread(n) {
    unread.dataset.n = String(n);
    unread.textContent = unread.textContent.replace(/\d+/, String(n));
    button.hidden = n === 0;
  }

  if (window.EventSource) {
    var source = new EventSource("/notifications/events");
    source.addEventListener("open", function () {
      document.getElementById("feed-live").hidden = false;
    });
    source.addEventListener("notification", function (e) {
      var n = JSON.parse(e.data);
      if (feed.querySelector('[data-id="' + n.id + '"]')) return;
      var li = document.createElement("li");
      li.className = "feed-item unread fresh";
      li.dataset.id = String(n.id);
      var b = document.createElement("b");
      b.textContent = n.subject;
      li.appendChild(b);
      li.appendChild(document.createElement("br"));
      li.appendChild(document.createTextNode(n.body));
      feed.insertBefore(li, feed.firstChild);
      var empty = document.getElementById("feed-empty");
      if (empty) empty.remove();
      newest = Math.max(newest, n.id);
      setUnread(Number(unread.dataset.n) + 1);
    });
  }

  button.addEventListener("click", function () {
    fetch("/api/v1/notifications/mine/read", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ up_to: newest }),
      credentials: "same-origin",
    }).then(function (r) {
      if (!r.ok) return;
      feed.querySelectorAll(".unread").forEach(function (li) { li.classList.remove("unread"); });
      setUnread(0);
    });
  });
})();

// The feed app: every call goes to the public API on this origin.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null, // {id, name}
    known: JSON.parse(localStorage.getItem("newsfeed.known") || "[]"),
    names: new Map(),
    poster: null,
  };

  // Calls the API; resolves to the JSON answer, or throws the API's own words.
  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["content-type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new Error("the server could not be reached: " + e.message);
    }
    const text = await response.text();
    let json;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    if (!response.ok) {
      throw new Error(json && json.error ? json.error : `${response.status} ${response.statusText}`);
    }
    return json;
  }

  function showError(error) {
    $("error").textContent = error ? error.message : "";
    $("error").hidden = !error;
  }

  // Runs an action from a form or button, showing its error if it fails.
  async function attempt(action) {
    try {
      await action();
      showError(null);
    } catch (e) {
      showError(e);
    }
  }

  const idOf = (link) => Number(link.split("/").pop());

  async function nameOf(link) {
    if (!state.names.has(link)) {
      const participant = await api("GET", link);
      state.names.set(link, participant.name);
    }
    return state.names.get(link);
  }

  function remember(participant) {
    state.names.set(participant.link, participant.name);
    state.known = [{ id: participant.id, name: participant.name },
      ...state.known.filter((p) => p.id !== participant.id)].slice(0, 12);
    localStorage.setItem("newsfeed.known", JSON.stringify(state.known));
  }

  function choose(participant) {
    remember(participant);
    state.me = { id: participant.id, name: participant.name };
    localStorage.setItem("newsfeed.me", String(participant.id));
    $("me").textContent = `You are ${participant.name} (#${participant.id})`;
    renderKnown();
    return refresh();
  }

  function need() {
    if (!state.me) throw new Error("Create or choose a participant first.");
    return state.me.id;
  }

  function renderKnown() {
    const list = $("known");
    list.replaceChildren(...state.known.map((p) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.className = "plain";
      button.textContent = `${p.name} (#${p.id})`;
      button.addEventListener("click", () => attempt(async () => choose(await api("GET", `/participant/${p.id}`))));
      li.append(button);
      return li;
    }));
    if (!state.known.length) list.textContent = "none yet";
  }

  async function renderPosts(list, posts, withAuthor) {
    const items = [];
    for (const post of posts) {
      const li = document.createElement("li");
      const head = document.createElement("div");
      const subject = document.createElement("span");
      subject.className = "subject";
      subject.textContent = post.subject;
      const meta = document.createElement("span");
      meta.className = "muted";
      const by = withAuthor ? ` by ${await nameOf(post.from)} (#${idOf(post.from)})` : "";
      meta.textContent = ` ${by} · ${post.occurred}`;
      head.append(subject, meta);
      const story = document.createElement("p");
      story.className = "story";
      story.textContent = post.story;
      li.append(head, story);
      items.push(li);
    }
    list.replaceChildren(...items);
    if (!items.length) list.textContent = "Nothing yet.";
  }

  async function refresh() {
    if (!state.me) return;
    const id = state.me.id;
    const [inbound, outbound, friends] = await Promise.all([
      api("GET", `/participant/${id}/inbound?limit=50`),
      api("GET", `/participant/${id}/outbound?limit=50`),
      api("GET", `/participant/${id}/friends`),
    ]);
    if (!state.me || state.me.id !== id) return;
    await renderPosts($("inbound"), inbound, true);
    await renderPosts($("outbound"), outbound, false);
    const names = await Promise.all(friends.map(async (f) => `${await nameOf(f.to)} (#${idOf(f.to)})`));
    $("friends").replaceChildren(...names.map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      return li;
    }));
    if (!names.length) $("friends").textContent = "No friends yet.";
  }

  async function openPoster(link) {
    const [participant, posts] = await Promise.all([api("GET", link), api("GET", `${link}/outbound?limit=20`)]);
    state.names.set(link, participant.name);
    state.poster = participant;
    $("poster-name").textContent = `${participant.name} (#${participant.id})`;
    await renderPosts($("poster-posts"), posts, false);
    $("poster").hidden = false;
    $("poster-befriend").focus();
  }

  async function befriend(otherId) {
    await api("POST", `/participant/${need()}/friends`, { to: `/participant/${otherId}` });
    await refresh();
  }

  function onSubmit(id, action) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(action);
    });
  }

  onSubmit("create", async () => {
    await choose(await api("POST", "/participant", { name: $("create-name").value }));
    $("create-name").value = "";
  });
  onSubmit("pick", async () => {
    const id = $("pick-id").value.trim();
    await choose(await api("GET", `/participant/${encodeURIComponent(id)}`));
    $("pick-id").value = "";
  });
  onSubmit("befriend", async () => {
    await befriend(encodeURIComponent($("friend-id").value.trim()));
    $("friend-id").value = "";
  });
  onSubmit("post", async () => {
    await api("POST", `/participant/${need()}/outbound`, { subject: $("subject").value, story: $("story").value });
    $("subject").value = "";
    $("story").value = "";
    await refresh();
  });
  onSubmit("search", async () => {
    const keywords = $("keywords").value;
    const links = await api("GET", `/outbound?keywords=${encodeURIComponent(keywords)}`);
    $("poster").hidden = true;
    $("search-note").textContent = links.length ? `Posters matching "${keywords}", best first:` : `No poster matches "${keywords}".`;
    const items = await Promise.all(links.map(async (link) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.className = "plain";
      button.textContent = `${await nameOf(link)} (#${idOf(link)})`;
      button.addEventListener("click", () => attempt(() => openPoster(link)));
      li.append(button);
      return li;
    }));
    $("results").replaceChildren(...items);
  });
  $("poster-befriend").addEventListener("click", () => attempt(() => befriend(state.poster.id)));

  renderKnown();
  const saved = localStorage.getItem("newsfeed.me");
  if (saved) attempt(async () => choose(await api("GET", `/participant/${saved}`)));
  // New posts from friends appear without a reload.
  setInterval(() => {
    if (state.me && !document.hidden) refresh().catch(showError);
  }, 2000);
})();

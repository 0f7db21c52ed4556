// The console's start: its style sheet and modules are loaded again when a load got no answer.
// Chromium fails the loads waiting for a connection when the machine's addresses change, as a
// Docker host's do each time a container starts or stops; a page whose modules did not all load
// would be dead. After the last try, the page says what failed.

const PAUSES = [200, 600, 1500];

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// this script runs once the style sheets before it are loaded or failed; Chromium gives a
// failed one an empty sheet whose rules cannot be read
function styled(link) {
  try {
    return link.sheet.cssRules.length > 0;
  } catch {
    return false;
  }
}

async function restyle(link, attempt = 0) {
  if (styled(link) || attempt >= PAUSES.length) return;
  await wait(PAUSES[attempt]);
  const again = link.cloneNode();
  again.addEventListener("error", () => restyle(again, attempt + 1), { once: true });
  link.replaceWith(again);
}

async function boot() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await import("./main.js");
      return;
    } catch (error) {
      if (attempt >= PAUSES.length) {
        const notice = document.getElementById("notice");
        notice.textContent = `The console could not load (${error.message}). Reload the page.`;
        notice.hidden = false;
        return;
      }
      await wait(PAUSES[attempt]);
    }
  }
}

for (const link of document.querySelectorAll("link[rel=stylesheet]")) restyle(link);
boot();

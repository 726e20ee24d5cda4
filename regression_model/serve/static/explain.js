// Why this price (issue 22): a small bar chart of the priced house's largest contributions,
// drawn from the `explanations` that /v1/predict?explain=true returns. The columns are the
// explanation's own `top` (config.yml's explain.top_columns), in its order, largest first.
"use strict";

function explanationBar(words, contribution, largest) {
  const row = document.createElement("div");
  row.className = "bar-row";
  const split = words.lastIndexOf(": ");
  const name = document.createElement("span");
  name.className = "bar-name";
  name.textContent = words.slice(0, split);
  name.title = words;
  const track = document.createElement("span");
  track.className = "bar-track";
  const bar = document.createElement("span");
  bar.className = contribution >= 0 ? "bar is-up" : "bar is-down";
  // Half the track is the largest part's length: bars grow right (up) or left (down).
  bar.style.width = `${largest > 0 ? (50 * Math.abs(contribution)) / largest : 0}%`;
  track.append(bar);
  const value = document.createElement("span");
  value.className = "bar-value";
  value.textContent = words.slice(split + 2);
  row.append(name, track, value);
  return row;
}

// Draws the chart for the first house of a /v1/predict answer; null (or no price) hides it.
function showExplanation(result) {
  const figure = document.getElementById("explanation");
  const explanation = result && result.explanations ? result.explanations[0] : null;
  if (!explanation || explanation.top.length === 0) {
    figure.hidden = true;
    figure.replaceChildren();
    return;
  }
  const parts = explanation.top.map((words) => {
    const column = words.split(" ")[0];
    return { words, contribution: explanation.contributions[column] };
  });
  const largest = Math.max(...parts.map((part) => Math.abs(part.contribution)));
  const caption = document.createElement("figcaption");
  const typical = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", maximumFractionDigits: 0,
  }).format(Math.exp(explanation.base));
  caption.textContent = `Why this price: the largest parts, from a typical ${typical}`;
  figure.replaceChildren(
    caption, ...parts.map((part) => explanationBar(part.words, part.contribution, largest)),
  );
  figure.hidden = false;
}

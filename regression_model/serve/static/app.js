// The page at /: builds the form from /v1/model's input schema, prefilled with its example
// house, sends one house to /v1/predict and puts each error or warning next to its field.
"use strict";

const state = { model: null, numericColumns: new Set() };

const byId = (id) => document.getElementById(id);
const dollars = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", maximumFractionDigits: 0,
});

function fieldElement(column, { isRequired, attributes }) {
  const field = document.createElement("div");
  field.className = "field";
  field.id = `field-${column}`;
  const label = document.createElement("label");
  label.htmlFor = `input-${column}`;
  label.textContent = column;
  if (isRequired) {
    const mark = document.createElement("span");
    mark.className = "required-mark";
    mark.textContent = " *";
    label.append(mark);
  }
  const input = document.createElement("input");
  input.id = `input-${column}`;
  input.name = column;
  for (const [name, value] of Object.entries(attributes)) input.setAttribute(name, value);
  const message = document.createElement("p");
  message.className = "message";
  message.id = `message-${column}`;
  field.append(label, input, message);
  return field;
}

function groupElement(title, hint, fields) {
  const fieldset = document.createElement("fieldset");
  fieldset.dataset.group = title;
  const legend = document.createElement("legend");
  legend.textContent = title;
  const note = document.createElement("span");
  note.className = "hint";
  note.textContent = hint;
  legend.append(note);
  fieldset.append(legend, ...fields);
  return fieldset;
}

function buildForm(model) {
  const schema = model.input_schema;
  const required = new Set(schema.required);
  const groups = [];
  for (const [name, rule] of Object.entries(schema.numeric)) {
    const fields = rule.columns.map((column) => {
      state.numericColumns.add(column);
      return fieldElement(column, {
        isRequired: required.has(column),
        attributes: {
          type: "number", inputmode: "decimal", min: rule.minimum, max: rule.maximum,
          step: rule.whole_numbers ? "1" : "any",
        },
      });
    });
    const kind = rule.whole_numbers ? "whole numbers" : "numbers";
    const hint = `${kind}, ${rule.minimum} to ${rule.maximum}`;
    groups.push(groupElement(name[0].toUpperCase() + name.slice(1), hint, fields));
  }
  // The labels the model saw in training, offered as suggestions; others are allowed.
  const seenLabels = (model.metadata.domain && model.metadata.domain.labels) || {};
  const labels = schema.categorical.map((column) => {
    const field = fieldElement(column, {
      isRequired: required.has(column),
      attributes: { type: "text", autocomplete: "off", spellcheck: "false" },
    });
    if (seenLabels[column]) {
      const list = document.createElement("datalist");
      list.id = `labels-${column}`;
      list.append(...seenLabels[column].map((label) => new Option(label)));
      field.querySelector("input").setAttribute("list", list.id);
      field.append(list);
    }
    return field;
  });
  groups.push(groupElement("Labels", "text codes from the data dictionary", labels));
  byId("groups").replaceChildren(...groups);
}

function fillExample() {
  for (const [column, value] of Object.entries(state.model.example_house)) {
    const input = byId(`input-${column}`);
    if (input) input.value = value === null ? "" : String(value);
  }
  clearMessages();
  byId("price").textContent = "–";
  byId("summary").textContent = "";
  byId("result").className = "result";
  showExplanation(null);
}

function readHouse() {
  const house = {};
  for (const input of byId("groups").querySelectorAll("input")) {
    const text = input.value.trim();
    if (text === "") {
      house[input.name] = null;
    } else if (state.numericColumns.has(input.name) && Number.isFinite(Number(text))) {
      house[input.name] = Number(text);
    } else {
      // Sent as typed: the service, not the page, decides what is wrong with it.
      house[input.name] = text;
    }
  }
  return house;
}

function clearMessages() {
  for (const field of byId("groups").querySelectorAll(".field")) {
    field.classList.remove("has-error", "has-warning");
    field.querySelector(".message").textContent = "";
  }
}

function addMessage(item, kind) {
  const field = item.column === null ? null : byId(`field-${item.column}`);
  if (field === null) return false;
  field.classList.add(`has-${kind}`);
  const message = field.querySelector(".message");
  message.textContent = message.textContent ? `${message.textContent}; ${item.message}` : item.message;
  return true;
}

// "2 warnings in LotArea, GrLivArea"
function countIn(items, noun) {
  const count = items.length === 1 ? `1 ${noun}` : `${items.length} ${noun}s`;
  const columns = [...new Set(items.map((item) => item.column).filter(Boolean))];
  return columns.length ? `${count} in ${columns.join(", ")}` : count;
}

function showResult(result) {
  clearMessages();
  const errors = result.errors || [];
  const warnings = result.warnings || [];
  const unplaced = [];
  for (const error of errors) if (!addMessage(error, "error")) unplaced.push(error.message);
  for (const warning of warnings) if (!addMessage(warning, "warning")) unplaced.push(warning.message);
  const price = result.predictions[0];
  const box = byId("result");
  if (price === null) {
    box.className = "result is-error";
    byId("price").textContent = "No price";
    const note = `${countIn(errors, "error")}: see the marked fields.`;
    byId("summary").textContent = [note, ...unplaced].join(" ");
    const first = byId("groups").querySelector(".has-error input");
    if (first) first.focus();
  } else {
    box.className = warnings.length ? "result is-warning" : "result is-priced";
    byId("price").textContent = dollars.format(price);
    const note = warnings.length ? `Priced, with ${countIn(warnings, "warning")}: see the marked fields.` : "";
    byId("summary").textContent = [note, ...unplaced].join(" ").trim();
  }
}

async function priceHouse(event) {
  event.preventDefault();
  const button = byId("submit");
  button.disabled = true;
  try {
    const response = await fetch("/v1/predict?explain=true", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify([readHouse()]),
    });
    const body = await response.json();
    if (response.ok) {
      showResult(body);
      showExplanation(body);
    } else {
      showExplanation(null);
      byId("result").className = "result is-error";
      byId("price").textContent = "No price";
      byId("summary").textContent = body.detail || `The service answered ${response.status}.`;
    }
  } catch (error) {
    byId("result").className = "result is-error";
    byId("summary").textContent = `The service could not be reached: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

async function start() {
  const response = await fetch("/v1/model");
  const body = await response.json();
  if (!response.ok) {
    byId("groups").replaceChildren(Object.assign(document.createElement("p"), {
      className: "loading", textContent: body.detail,
    }));
    return;
  }
  state.model = body;
  byId("version").textContent = `v${body.version}`;
  buildForm(body);
  fillExample();
  byId("house-form").addEventListener("submit", priceHouse);
  byId("reset").addEventListener("click", fillExample);
  byId("submit").disabled = false;
  byId("reset").disabled = false;
  document.body.dataset.ready = "true";
}

start();

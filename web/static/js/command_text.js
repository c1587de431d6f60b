// What the agent asked for, not how the runtime wrapped it: `/bin/bash -lc 'ls -la'` → `ls -la`.

const WRAPPER = /^(?:\S*\/)?(?:bash|sh|zsh|dash)\s+-l?c\s+([\s\S]+)$/;

// One shell word in single or double quotes, or bare; null when it is not exactly one word.
function unquote(word) {
  let out = "";
  let index = 0;
  while (index < word.length) {
    const char = word[index];
    if (char === "'") {
      const end = word.indexOf("'", index + 1);
      if (end < 0) return null;
      out += word.slice(index + 1, end);
      index = end + 1;
    } else if (char === '"') {
      let end = index + 1;
      while (end < word.length && word[end] !== '"') {
        if (word[end] === "\\" && end + 1 < word.length) {
          out += word[end + 1];
          end += 2;
        } else {
          out += word[end];
          end += 1;
        }
      }
      if (end >= word.length) return null;
      index = end + 1;
    } else if (char === "\\" && index + 1 < word.length) {
      out += word[index + 1];
      index += 2;
    } else if (/\s/.test(char)) {
      return null;
    } else {
      out += char;
      index += 1;
    }
  }
  return out;
}

export function innerCommand(command) {
  if (Array.isArray(command)) {
    const [shell, flag, script] = command.map(String);
    if (command.length === 3 && WRAPPER.test(`${shell} ${flag} x`)) return script;
    return command.join(" ");
  }
  const text = String(command ?? "");
  const match = WRAPPER.exec(text.trim());
  if (!match) return text;
  const inner = unquote(match[1].trim());
  return inner === null ? text : inner;
}

// The signed-in token, kept in localStorage and shared by the chat page and the consent page.

const TOKEN_KEY = "todo-agent.token";

export function storedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the user signs in on every visit
  }
}

export function storeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: nothing to keep or forget.
  }
}

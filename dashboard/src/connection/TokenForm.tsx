/**
 * The token field in the header: save a bearer token (kept in this
 * browser's localStorage; every request and the WebSocket use it from then
 * on), or forget it and read anonymously where the gateway allows that.
 */
import { useState } from 'preact/hooks';
import { saveToken, savedToken } from '../api/token';

/** The form. */
export function TokenForm() {
  const [saved, setSaved] = useState(savedToken() !== null);
  const [value, setValue] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        saveToken(value);
        setSaved(savedToken() !== null);
        setValue('');
      }}
    >
      <label>
        token{' '}
        <input
          type="password"
          name="token"
          autoComplete="off"
          placeholder={saved ? 'saved (type to replace)' : 'anonymous (paste a token)'}
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Save</button>
      {saved ? (
        <button
          type="button"
          onClick={() => {
            saveToken(null);
            setSaved(false);
          }}
        >
          Forget
        </button>
      ) : null}
    </form>
  );
}

/* skinlens: the lesion history's storage (IndexedDB) and the backup's encryption (Web Crypto).
 *
 * The browser-only part of issue 16; everything else (records, their schema and migrations,
 * change measures, the backup file's format) is Python (skinlens.history, skinlens.backup),
 * reached from Python through py/skinlens/web/browser.py only. Loaded on first use (the
 * history view or a save), as a classic script, and exposed as window.skinlens.history.
 *
 * Records cross the boundary as JSON text (one JSON.parse/stringify each way is far cheaper
 * than converting objects field by field), bytes as Uint8Array.
 *
 * Database "skinlens" (version 1 or, where a store was missing, higher), object stores:
 *   lesions  keyPath "id"
 *   checks   keyPath "id", index "lesion" (on lesion_id)
 *   images   keyPath "id" (a check's id): {id, crop, photo} -- the stored pictures, apart from
 *            the checks so that listing 500 checks does not read 50 MB of pictures
 *   meta     keyPath "key": {key, value} (facts about the history itself; none written yet)
 * The records' own schema (their "schema" field) is migrated by Python when they are loaded;
 * onupgradeneeded here only creates the stores.
 *
 * Every failure is an Error whose message is a stable code (and .code the same):
 *   quota              the browser refused to store more (QuotaExceededError); the transaction
 *                      was aborted, so nothing already stored changed
 *   storage            any other refused or aborted transaction (also: nothing changed)
 *   unavailable        IndexedDB cannot be opened here (private mode, disabled)
 *   wrong-passphrase   the backup's key check does not match this passphrase
 *   tampered           AES-GCM authentication failed: the file was changed
 *
 * Backup keys (skinlens.backup's docstring): 64 bytes of PBKDF2-HMAC-SHA-256 (passphrase as
 * UTF-8, the header's salt and iteration count); the first 32 are the AES-GCM-256 key, the
 * last 32 the key check stored in the header, which tells a wrong passphrase from a changed
 * file (PBKDF2 computes each 32-byte block on its own: the check says nothing of the key).
 */
(function () {
  "use strict";

  const DB_NAME = "skinlens";
  const STORES = ["lesions", "checks", "images", "meta"];
  const HISTORY_CACHE_PREFIX = "skinlens-history"; // Cache Storage: none used today, cleared anyway

  function fail(code, cause) {
    const e = new Error(code);
    e.code = code;
    if (cause) e.cause = cause;
    return e;
  }
  const codeOf = (error) => (error && error.name === "QuotaExceededError" ? "quota" : "storage");

  /* ------------------------------------------------------------ database */
  let dbPromise = null;
  function open() {
    if (!dbPromise) {
      // no version asked: the database as it is (a new one is made at version 1); the
      // stores' layout has one version so far, the records' schema is Python's business
      dbPromise = openAt(null).then((db) => {
        // a database of this name without our stores (made by a bare indexedDB.open, e.g.
        // from the developer tools): one version up creates them
        if (STORES.every((s) => db.objectStoreNames.contains(s))) return db;
        const next = db.version + 1;
        db.close();
        return openAt(next);
      });
      dbPromise.catch(() => (dbPromise = null));
    }
    return dbPromise;
  }

  function openAt(version) {
    return new Promise((resolve, reject) => {
      let req;
      try {
        req = version ? indexedDB.open(DB_NAME, version) : indexedDB.open(DB_NAME);
      } catch (e) {
        reject(fail("unavailable", e));
        return;
      }
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("lesions")) db.createObjectStore("lesions", { keyPath: "id" });
        if (!db.objectStoreNames.contains("checks")) {
          db.createObjectStore("checks", { keyPath: "id" }).createIndex("lesion", "lesion_id");
        }
        if (!db.objectStoreNames.contains("images")) db.createObjectStore("images", { keyPath: "id" });
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta", { keyPath: "key" });
      };
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => {
          db.close(); // another tab deletes or upgrades: let it
          dbPromise = null;
        };
        resolve(db);
      };
      req.onerror = () => reject(fail("unavailable", req.error));
      req.onblocked = () => reject(fail("unavailable"));
    });
  }

  /* One transaction over `stores`; `work(tx)` issues the requests (a synchronous throw, e.g.
   * a QuotaExceededError from put, aborts it). Resolves with what work returned (read
   * results are filled in by their callbacks) once the transaction has committed; rejects
   * with "quota" or "storage" after an abort, which leaves every store as it was. */
  async function transact(stores, mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      let tx;
      try {
        tx = db.transaction(stores, mode);
      } catch (e) {
        reject(fail(codeOf(e), e));
        return;
      }
      let out;
      let thrown = null;
      tx.oncomplete = () => resolve(out);
      tx.onabort = () => reject(fail(codeOf(thrown || tx.error), thrown || tx.error));
      try {
        out = work(tx);
      } catch (e) {
        thrown = e;
        try {
          tx.abort();
        } catch (e2) {
          /* already finished */
        }
      }
    });
  }

  function getAllInto(store, target, key) {
    const req = store.getAll();
    req.onsuccess = () => (target[key] = req.result);
  }

  // {lesions, checks, meta} as JSON text: everything the history view lists (no pictures).
  function all() {
    return transact(["lesions", "checks", "meta"], "readonly", (tx) => {
      const out = {};
      for (const s of ["lesions", "checks", "meta"]) getAllInto(tx.objectStore(s), out, s);
      return out;
    }).then((out) => JSON.stringify(out));
  }

  // The pictures of these checks: JSON text {id: {crop, photo}}.
  function images(ids) {
    return transact(["images"], "readonly", (tx) => {
      const out = {};
      const store = tx.objectStore("images");
      for (const id of ids) {
        const req = store.get(id);
        req.onsuccess = () => {
          if (req.result) out[id] = req.result;
        };
      }
      return out;
    }).then((out) => JSON.stringify(out));
  }

  // A lesion and its new check (and the check's pictures) in one transaction.
  function save(lesionJson, checkJson, imageJson) {
    const lesion = JSON.parse(lesionJson);
    const check = JSON.parse(checkJson);
    const image = imageJson ? JSON.parse(imageJson) : null;
    return transact(["lesions", "checks", "images"], "readwrite", (tx) => {
      tx.objectStore("lesions").put(lesion);
      tx.objectStore("checks").put(check);
      if (image) tx.objectStore("images").put(image);
    });
  }

  // Several records of one store (re-scored checks, migrated records), all or none.
  function putMany(store, recordsJson) {
    const records = JSON.parse(recordsJson);
    return transact([store], "readwrite", (tx) => {
      const s = tx.objectStore(store);
      for (const r of records) s.put(r);
    });
  }

  function deleteCheck(id) {
    return transact(["checks", "images"], "readwrite", (tx) => {
      tx.objectStore("checks").delete(id);
      tx.objectStore("images").delete(id);
    });
  }

  // A lesion with every check of it.
  function deleteLesion(id) {
    return transact(["lesions", "checks", "images"], "readwrite", (tx) => {
      tx.objectStore("lesions").delete(id);
      const checks = tx.objectStore("checks");
      const images = tx.objectStore("images");
      const req = checks.index("lesion").getAllKeys(id);
      req.onsuccess = () => {
        for (const key of req.result) {
          checks.delete(key);
          images.delete(key);
        }
      };
    });
  }

  /* Everything: the database itself is deleted (clearing stores would leave the old bytes in
   * the database's files until the browser compacts them), and any Cache Storage entry of
   * the history (none is written today; the app's own caches are left alone). */
  async function deleteAll() {
    if (dbPromise) {
      const db = await dbPromise.catch(() => null);
      if (db) db.close();
      dbPromise = null;
    }
    await new Promise((resolve, reject) => {
      const req = indexedDB.deleteDatabase(DB_NAME);
      req.onsuccess = () => resolve();
      req.onerror = () => reject(fail("storage", req.error));
      req.onblocked = () => reject(fail("storage"));
    });
    if (self.caches) {
      for (const name of await caches.keys()) {
        if (name.startsWith(HISTORY_CACHE_PREFIX)) await caches.delete(name);
      }
    }
  }

  /* Add `json`'s records ({lesions, checks, images}) to what is stored (a record with the
   * same id is replaced: importing the same backup twice changes nothing), in ONE
   * transaction: all of them or, after any failure, none. */
  function importAll(json) {
    const data = JSON.parse(json);
    return transact(STORES, "readwrite", (tx) => {
      for (const s of STORES) {
        const store = tx.objectStore(s);
        for (const r of data[s] || []) store.put(r);
      }
    });
  }

  /* ------------------------------------------------------------ storage */
  async function storage() {
    const s = navigator.storage;
    const est = s && s.estimate ? await s.estimate() : {};
    const persisted = s && s.persisted ? await s.persisted() : false;
    return JSON.stringify({ usage: est.usage || 0, quota: est.quota || 0, persisted });
  }

  async function persist() {
    const s = navigator.storage;
    return !!(s && s.persist && (await s.persist()));
  }

  /* ------------------------------------------------------------ crypto */
  const enc = new TextEncoder();
  // 64 bytes of PBKDF2-SHA-256: the AES-GCM-256 key, then the key check (skinlens.backup)
  async function keys(passphrase, salt, iterations) {
    const material = await crypto.subtle.importKey("raw", enc.encode(passphrase), "PBKDF2", false, ["deriveBits"]);
    const bits = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, 512)
    );
    const key = await crypto.subtle.importKey("raw", bits.slice(0, 32), "AES-GCM", false, ["encrypt", "decrypt"]);
    return { key, check: bits.slice(32) };
  }

  // -> {ciphertext (its 128-bit tag at the end), keyCheck} as Uint8Array
  async function encrypt(passphrase, salt, iv, iterations, plaintext) {
    const k = await keys(passphrase, salt, iterations);
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, k.key, plaintext));
    return { ciphertext, keyCheck: k.check };
  }

  // The plaintext; a key check that differs (compared in constant time) is a wrong
  // passphrase, an authentication failure after a matching one is a changed file.
  async function decrypt(passphrase, salt, iv, iterations, expectedCheck, ciphertext) {
    const k = await keys(passphrase, salt, iterations);
    let diff = k.check.length ^ expectedCheck.length;
    for (let i = 0; i < k.check.length; i++) diff |= k.check[i] ^ (expectedCheck[i] || 0);
    if (diff) throw fail("wrong-passphrase");
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, k.key, ciphertext));
    } catch (e) {
      throw fail("tampered", e);
    }
  }

  const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

  /* ------------------------------------------------------------ downloads */
  // A download of bytes made in the page (the backup, the .ics file); nothing is sent anywhere.
  function download(bytes, name, mime) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([bytes], { type: mime }));
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  }

  window.skinlens = window.skinlens || {};
  window.skinlens.history = {
    DB_NAME,
    open: () => open().then(() => true),
    all,
    images,
    save,
    putMany,
    deleteCheck,
    deleteLesion,
    deleteAll,
    importAll,
    storage,
    persist,
    encrypt,
    decrypt,
    randomBytes,
    download,
  };
})();

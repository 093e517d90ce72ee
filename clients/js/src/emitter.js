// A small typed event emitter, for the client's and the job's listeners.
//
// Listeners are called synchronously, in the order they were added, so that
// a listener sees events in the order the server sent them. A listener that
// throws does not stop the others: its error is rethrown on its own task,
// where the page's error handling (or Node's) reports it.

/**
 * @template {Record<string, unknown[]>} Events
 */
export class Emitter {
  /** @type {Map<keyof Events, Set<(...args: any[]) => void>>} */
  #listeners = new Map();

  /**
   * Calls `listener` on each `type` event until the returned function is called.
   * @template {keyof Events} K
   * @param {K} type
   * @param {(...args: Events[K]) => void} listener
   * @returns {() => void} removes the listener
   */
  on(type, listener) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => this.off(type, listener);
  }

  /**
   * @template {keyof Events} K
   * @param {K} type
   * @param {(...args: Events[K]) => void} listener
   */
  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  /**
   * @template {keyof Events} K
   * @param {K} type
   * @param {Events[K]} args
   */
  emit(type, ...args) {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * Iterators that stop when told to. An async generator that is waiting
 * (for a live event, for a wake-up) queues a `return()` until it resumes, so
 * a subscriber that leaves would keep its resources until the next event,
 * possibly forever. `interruptible` runs `interrupt` first, which must wake
 * whatever the generator waits on, and then returns it, so its `finally`
 * runs at once.
 */

/** `gen`, with `return()`/`throw()` that call `interrupt` before ending it. */
export function interruptible<T>(gen: AsyncGenerator<T>, interrupt: () => void): AsyncIterableIterator<T> {
  const end = async (): Promise<IteratorResult<T>> => {
    interrupt();
    return gen.return(undefined as never);
  };
  const iterator: AsyncIterableIterator<T> = {
    next: () => gen.next(),
    return: end,
    throw: end,
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

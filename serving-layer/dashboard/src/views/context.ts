/** What every view gets: the day and zone picked in the header, where to draw, the hash parameters. */
export interface ViewContext {
  day: string;
  tz: string;
  main: HTMLElement;
  params: URLSearchParams;
}
